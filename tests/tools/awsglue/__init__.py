"""A small stand-in for AWS Glue's `awsglue` library, so the Glue scripts dekit renders run
unchanged under plain PySpark in tests. Only what dekit's scripts use is here.

`GlueContext` gives the Spark session; with the Data Catalog as metastore on Glue, the script's
SQL names catalog tables. Here those tables are local Parquet copies: `DEKIT_GLUE_INPUTS` (JSON:
{"database": ..., "tables": {name: path}}) registers each in Spark's own catalog under that
database, which is what `--enable-glue-datacatalog` gives a job on AWS.
"""
