#!/usr/bin/env python3
"""Checks the Helm chart without a cluster: every `.Values.x.y` a template
reads is defined in values.yaml, and the static files are valid YAML. With
`helm` on PATH it also lints and renders the chart with the required values.

Usage: scripts/check_chart.py [CHART_DIR]   (default helm/consent-service)
"""
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

chart = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "helm/consent-service")
problems = []

static = {}
for name in ("Chart.yaml", "values.yaml"):
    try:
        static[name] = yaml.safe_load((chart / name).read_text())
    except yaml.YAMLError as error:
        problems.append(f"{name}: not valid YAML: {error}")
values = static.get("values.yaml") or {}

for name in ("apiVersion", "name", "version"):
    if name not in (static.get("Chart.yaml") or {}):
        problems.append(f"Chart.yaml: no {name}")

reference = re.compile(r"\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")
for template in sorted((chart / "templates").glob("*")):
    for number, line in enumerate(template.read_text().splitlines(), 1):
        for path in reference.findall(line):
            node = values
            for key in path.split("."):
                if not isinstance(node, dict) or key not in node:
                    problems.append(f"{template.name}:{number}: .Values.{path} is not in values.yaml")
                    break
                node = node[key]

if shutil.which("helm"):
    required = [
        "--set", "tls.secretName=consent-tls",
        "--set", "tls.clientCaSecretName=consent-callers-ca",
        "--set-string", "callers=# none",
    ]
    for command in (["helm", "lint", str(chart), *required], ["helm", "template", "check", str(chart), *required]):
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            problems.append(f"{' '.join(command[:2])}: {run.stdout}{run.stderr}")
        elif command[1] == "template":
            list(yaml.safe_load_all(run.stdout))  # the rendered manifests parse
else:
    print("helm not installed: values references and static YAML checked only")

for problem in problems:
    print(problem, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"chart {chart}: every values reference is defined; static YAML valid")
