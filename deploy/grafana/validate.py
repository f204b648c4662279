#!/usr/bin/env python3
"""Strict validation of Grafana dashboard JSON against grafana-foundation-sdk's
dashboard model classes.

The SDK's `from_json` is lenient: it ignores keys it does not know and copies
values without checking their type. So a dashboard is decoded with it and then
  1. encoded again: any key the model dropped (unknown or misspelled) is an
     error, reported with its JSON path;
  2. every decoded model object is walked against its class's type hints:
     a value of the wrong type (a string where an int goes, an enum value that
     does not exist, ...) is an error;
  3. every panel type and every query's datasource type must be one the SDK
     models (no opaque "unknown" panel options or queries pass).

    python3 deploy/grafana/validate.py FILE...    # exit 1 and list the errors

Input: dashboard JSON files; output: errors on stderr, exit status.
"""

import enum
import json
import sys
import types
import typing

from grafana_foundation_sdk.cog import plugins as cogplugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

cogplugins.register_default_plugins()


def _diff(want, got, path, errors):
    """Keys of `want` (the file) missing from `got` (the re-encoded model)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k, v in want.items():
            if k not in got:
                errors.append(f"{path}.{k}: unknown field (not in the SDK's model)")
            else:
                _diff(v, got[k], f"{path}.{k}", errors)
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            errors.append(f"{path}: {len(want)} items decoded as {len(got)}")
        for i, (a, b) in enumerate(zip(want, got)):
            _diff(a, b, f"{path}[{i}]", errors)
    elif isinstance(want, (dict, list)) != isinstance(got, (dict, list)):
        errors.append(f"{path}: {type(want).__name__} decoded as {type(got).__name__}")
    elif want != got and not (isinstance(want, (int, float)) and isinstance(got, (int, float))
                              and float(want) == float(got)):
        errors.append(f"{path}: value {want!r} decoded as {got!r}")


def _matches(value, hint, path, errors):
    """Whether `value` fits the type hint `hint`; walks model objects inside."""
    if hint is typing.Any or hint is object:
        # Panel options and custom field config are typed `Any` in the
        # dashboard model but decoded into the panel plugin's own classes.
        if type(value).__module__.startswith("grafana_foundation_sdk.models"):
            _check_object(value, path, errors)
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            return type(None) in options
        for opt in options:
            trial = []
            if opt is not type(None) and _matches(value, opt, path, trial):
                errors.extend(trial)  # the errors inside the option that fits
                return True
        return False
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin is list:
        if not isinstance(value, list):
            return False
        (item,) = typing.get_args(hint) or (typing.Any,)
        ok = True
        for i, v in enumerate(value):
            if not _matches(v, item, f"{path}[{i}]", errors):
                errors.append(f"{path}[{i}]: {v!r} is not {item}")
                ok = False
        return ok
    if origin is dict:
        if not isinstance(value, dict):
            return False
        _, vt = typing.get_args(hint) or (str, typing.Any)
        return all(_matches(v, vt, f"{path}.{k}", errors) for k, v in value.items())
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            try:
                hint(value)
                return True
            except ValueError:
                return False
        if hint is float:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if hint is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if hint in (str, bool):
            return isinstance(value, hint)
        if isinstance(value, hint):
            _check_object(value, path, errors)
            return True
        return False
    return True


def _check_object(obj, path, errors):
    """Each attribute of a model object against its class's type hints."""
    if isinstance(obj, cogruntime.UnknownDataquery):
        errors.append(f"{path}: a query of a datasource type the SDK does not model")
        return
    try:
        hints = typing.get_type_hints(type(obj))
    except Exception:  # a class whose hints cannot be resolved: nothing to check
        return
    for name, hint in hints.items():
        if not hasattr(obj, name):
            continue
        value = getattr(obj, name)
        if not _matches(value, hint, f"{path}.{name}", errors):
            errors.append(f"{path}.{name}: {value!r} is not of type {hint}")


def validate(data):
    """The errors of one dashboard (a decoded JSON object); empty when valid."""
    errors = []
    if not isinstance(data, dict):
        return ["$: a dashboard is a JSON object"]
    for i, p in enumerate(data.get("panels") or []):
        kind = p.get("type") if isinstance(p, dict) else None
        if kind != "row" and cogruntime.panelcfg_config(kind or "") is None:
            errors.append(f"$.panels[{i}].type: {kind!r} is not a panel type the SDK models")
    try:
        model = dm.Dashboard.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return errors + [f"$: does not decode: {type(e).__name__}: {e}"]
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    _diff(data, again, "$", errors)
    _check_object(model, "$", errors)
    return errors


def main(paths):
    bad = 0
    for path in paths:
        with open(path) as f:
            errors = validate(json.load(f))
        for e in errors:
            print(f"{path}: {e}", file=sys.stderr)
        bad += bool(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
