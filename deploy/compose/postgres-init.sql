-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as
-- POSTGRES_USER, after POSTGRES_DB (the Dagster database) was created: MLflow gets a database of
-- its own, since both use Alembic and would share an `alembic_version` table otherwise.
CREATE DATABASE mlflow;
