"""Validates gateway responses against the OpenAPI response schema of their operation.

OpenAPI 3.0's `nullable` is turned into JSON Schema's null type, and objects with declared
properties get `additionalProperties: false`, so a key the spec does not name (say
`execution_sid` in an Engagement) fails instead of slipping through.
"""
import json
import os
import re
from urllib.parse import urlsplit

import jsonschema


class OpenAPIValidator:
    def __init__(self, directory):
        self.specs = [json.load(open(os.path.join(directory, name))) for name in ("twilio_studio_v1.json", "twilio_studio_v2.json")]
        self.operations = []
        for spec in self.specs:
            for template, item in spec["paths"].items():
                pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
                for method, operation in item.items():
                    if method in ("get", "post", "delete"):
                        self.operations.append((re.compile(pattern), method.upper(), template, operation, spec))
        self.validated = 0

    def operation(self, method, url):
        path = urlsplit(url).path
        # Literal paths (e.g. /v2/Flows/Validate) win over templated ones.
        matches = [op for op in self.operations if op[1] == method and op[0].match(path)]
        matches.sort(key=lambda op: op[2].count("{"))
        return matches[0] if matches else None

    def validate(self, method, url, status, body):
        found = self.operation(method, url)
        assert found, f"no OpenAPI operation for {method} {url}"
        _, _, template, operation, spec = found
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {template}: status {status} not in the spec ({list(operation['responses'])})"
        content = response.get("content", {}).get("application/json")
        if content is None:
            assert not body.strip(), f"{method} {template}: {status} should have no body"
            self.validated += 1
            return
        schema = self.strict(content["schema"], spec)
        jsonschema.validate(json.loads(body), schema)
        self.validated += 1

    def strict(self, schema, spec):
        if isinstance(schema, list):
            return [self.strict(item, spec) for item in schema]
        if not isinstance(schema, dict):
            return schema
        if "$ref" in schema:
            name = schema["$ref"].split("/")[-1]
            return self.strict(spec["components"]["schemas"][name], spec)
        out = {key: self.strict(value, spec) for key, value in schema.items() if key not in ("nullable", "x-twilio", "description", "example", "format")}
        if "properties" in schema:
            out["properties"] = {key: self.strict(value, spec) for key, value in schema["properties"].items()}
            if schema.get("type", "object") == "object":
                out["additionalProperties"] = False
        if schema.get("nullable") and "type" in out:
            out["type"] = [out["type"], "null"]
        if schema.get("nullable") and "enum" in out:
            out["enum"] = out["enum"] + [None]
        return out
