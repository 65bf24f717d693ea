"""The run logger: Dagster's run logs in the project's format (TY_LOG_FORMAT), through `tyctl run`'s progress
display when one is shown (:mod:`ty_assets.progress`)."""

from __future__ import annotations

import logging
import sys

from dagster import Field, InitLoggerContext, logger

from ty_assets import progress
from ty_resources.logs import make_formatter
from ty_resources.settings import get_settings


@logger(
    config_schema={"log_level": Field(str, is_required=False, default_value="INFO")},
    description="Console logger writing JSON lines or human lines, as TY_LOG_FORMAT says.",
)
def ty_console_logger(init_context: InitLoggerContext) -> logging.Logger:
    level = logging.getLevelName(init_context.logger_config["log_level"])
    run_logger = logging.Logger("ty.run", level=level)
    handler: logging.Handler
    display = progress.active()
    if display is not None:
        run_logger.setLevel(logging.DEBUG)  # the display follows the step events; the handler prints from level
        handler = display.log_handler(level)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(get_settings().log_format))
    run_logger.addHandler(handler)
    return run_logger


# Run config that selects this logger (Dagster uses its default console logger otherwise).
RUN_LOGGER_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
