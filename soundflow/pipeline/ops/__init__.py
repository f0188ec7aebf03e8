"""Operations: the Prefect and MLflow servers, deployments and schedules, run comparison and the model registry."""
