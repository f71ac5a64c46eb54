# Run by the schema Job before the migrations (python -c, psycopg from the service image).
# Azure Database for PostgreSQL refuses CREATE EXTENSION for anything its `azure.extensions`
# server parameter does not allow-list; location_db needs postgis and pg_trgm. A server without
# the parameter is not Azure's, and nothing is checked.
import os
import sys

import psycopg

NEEDED = ("postgis", "pg_trgm")
with psycopg.connect(os.environ["TRIPGEN_DATABASE_URL"], connect_timeout=10) as conn:
    row = conn.execute("SELECT current_setting('azure.extensions', true)").fetchone()
allowed = row[0] if row else None
if allowed is None:
    print("no azure.extensions parameter: not Azure Database for PostgreSQL; nothing to check")
    sys.exit(0)
listed = {name.strip().lower() for name in allowed.split(",") if name.strip()}
missing = [name for name in NEEDED if name not in listed]
if missing:
    wanted = ",".join(sorted(listed | set(NEEDED))).upper()
    sys.exit(
        f"the server parameter azure.extensions does not allow-list {', '.join(missing)} "
        f"(it is {allowed or 'empty'!r}); the migrations create postgis and pg_trgm. "
        "Allow them: "
        "az postgres flexible-server parameter set --resource-group <group> "
        f"--server-name <server> --name azure.extensions --value {wanted}"
    )
print(f"azure.extensions allow-lists {', '.join(NEEDED)}")
