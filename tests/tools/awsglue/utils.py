"""`awsglue.utils.getResolvedOptions`: `--NAME value` arguments, as Glue passes them."""


def getResolvedOptions(argv, names):
    out = {}
    for name in names:
        flag = f"--{name}"
        if flag not in argv:
            raise SystemExit(f"argument {flag} is required")
        out[name] = argv[argv.index(flag) + 1]
    return out
