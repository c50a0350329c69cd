"""The local stack's settings: read from a given environment, each mistake said in a line."""

from __future__ import annotations

import pytest

from local.config import Config
from local.template import ROOT


def test_unset_or_blank_variables_mean_the_defaults():
    assert Config.from_env({}) == Config.from_env({"PORT": " ", "MOTO_PORT": ""})
    defaults = Config.from_env({})
    assert (defaults.port, defaults.moto_port, defaults.data_dir) == (3000, None, ROOT / ".local")
    assert defaults.payment_provider == "stripe"


def test_values_are_read_as_the_stack_means_them():
    config = Config.from_env(
        {
            "PORT": " 3517 ",
            "BOXOFFICE_DATA_DIR": "elsewhere",
            "LAMBDA_CONCURRENCY": "0",  # at least one instance
            "LAMBDA_PREWARM": "Off",
            "SEED_DEMO": "yes",
            "PAYMENT_PROVIDER": "TEST",
            "GATEWAY_RATE_LIMIT": "2.5",
        }
    )
    assert (config.port, config.data_dir) == (3517, ROOT / "elsewhere")
    assert config.lambda_concurrency == 1
    assert (config.prewarm, config.seed_demo, config.payment_provider) == (False, True, "test")
    assert config.rate_limit == 2.5
    assert Config.from_env(config.as_env()) == config


def test_each_mistake_is_one_readable_line():
    with pytest.raises(SystemExit) as stopped:
        Config.from_env(
            {"PORT": "x", "TTL_SWEEP_SECONDS": "0", "PAYMENT_PROVIDER": "paypal", "HOST": "h"}
        )
    assert str(stopped.value).splitlines() == [
        "PORT must be an integer, not 'x'",
        "TTL_SWEEP_SECONDS must be positive, not '0'",
        "PAYMENT_PROVIDER must be one of stripe, test, not 'paypal'",
    ]


def test_the_help_lists_every_variable_with_its_default():
    described = Config.described()
    for field in Config.model_fields.values():
        assert f"  {field.alias}" in described
    assert "  PORT (3000) " in described
    assert "GATEWAY_RATE_LIMIT (" not in described  # no default: the stage's
