import os

# No network here: keep MLflow and DVC from phoning home during tests.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
