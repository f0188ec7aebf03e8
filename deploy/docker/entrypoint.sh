#!/bin/sh
# The image's entrypoint: runs its command once dvc.lock can be read. The image links dvc.lock into the state
# volume (.soundflow/, see the Dockerfile), so the lock outlives the container with the outputs it describes; DVC
# refuses a dangling link, so on a fresh volume (compose's named one, a Kubernetes claim) the link first gets a
# lock that records no stage yet.
set -eu
lock="$(cd "$(dirname "$0")/../.." && pwd)/dvc.lock"
if [ -L "$lock" ] && [ ! -e "$lock" ]; then
    printf 'schema: "2.0"\nstages: {}\n' > "$lock" # written through the link: creates its target
fi
exec "$@"
