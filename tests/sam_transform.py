"""Print template.yaml as CloudFormation receives it, transformed by samtranslator as
`sam validate` does. Run with the aws-sam-cli tools venv's Python (samtranslator pins its
own pydantic), so it imports nothing of the project."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    """The template names no AWS managed policies, so nothing needs looking up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


def main(path: str) -> None:
    parsed = yaml_parse(Path(path).read_text())
    # Local code folders as the S3 objects `sam package` would upload (as `sam validate`).
    for resource in parsed["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                resource["Properties"][key] = f"s3://bucket/{resource['Properties'][key]}"
    json.dump(transform(parsed, {}, _NoManagedPolicies()), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
