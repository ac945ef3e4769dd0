"""`awsglue.context.GlueContext` for tests: the session, with the inputs registered."""
import json
import os

from pyspark.sql import SparkSession


class GlueContext:
    def __init__(self, sc):
        self.spark_session = SparkSession(sc)
        inputs = json.loads(os.environ.get("DEKIT_GLUE_INPUTS", "{}"))
        db = inputs.get("database")
        if db:
            self.spark_session.sql(f"CREATE DATABASE IF NOT EXISTS `{db}`")
            for name, path in inputs.get("tables", {}).items():
                self.spark_session.sql(f"DROP TABLE IF EXISTS `{db}`.`{name}`")
                self.spark_session.sql(
                    f"CREATE TABLE `{db}`.`{name}` USING parquet LOCATION '{path}'"
                )
