"""Run dekit-rendered Glue scripts under real PySpark and compare each model's output with the
local engine's result for the same model.

usage: run_glue.py PLAN.json
PLAN: {"database": db, "jobs": [{"model", "script", "inputs": {name: parquet dir},
       "expected": parquet file of the local engine's result, "output": dir the script writes}]}
Prints one JSON line per model: rows written, whether they match, and the differences if not.
Exits 1 when any model fails or differs.
"""
import json
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

plan = json.load(open(sys.argv[1]))
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")


def as_text(df, columns):
    # Compare values as text: Spark and the local engine may pick different (equal) types.
    return df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in columns])


failed = False
for job in plan["jobs"]:
    os.environ["DEKIT_GLUE_INPUTS"] = json.dumps(
        {"database": plan["database"], "tables": job["inputs"]}
    )
    sys.argv = [job["script"], "--JOB_NAME", job["model"], "--JOB_RUN_ID", "jr_test",
                "--dekit_version", "spark"]
    result = {"model": job["model"]}
    try:
        runpy.run_path(job["script"], run_name="__main__")
        got = spark.read.parquet(job["output"])
        want = spark.read.parquet(job["expected"])
        cols = [c.lower() for c in want.columns]
        got_cols = sorted(c.lower() for c in got.columns)
        result["rows"] = got.count()
        result["expected_rows"] = want.count()
        if got_cols != sorted(cols):
            result["error"] = f"columns differ: {got_cols} vs {sorted(cols)}"
        else:
            g, w = as_text(got, cols), as_text(want, cols)
            extra, missing = g.exceptAll(w), w.exceptAll(g)
            result["extra"] = [r.asDict() for r in extra.limit(5).collect()]
            result["missing"] = [r.asDict() for r in missing.limit(5).collect()]
            result["match"] = not result["extra"] and not result["missing"]
    except BaseException as e:  # noqa: BLE001 - a failed script is a result, not a crash
        result["error"] = f"{type(e).__name__}: {e}"
    if result.get("error") or not result.get("match"):
        failed = True
    print(json.dumps(result, default=str), flush=True)
sys.exit(1 if failed else 0)
