"""Beyond one machine: the stage DAG exported to Argo Workflows and Kubeflow Pipelines, Kubernetes job templates."""
