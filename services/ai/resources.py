"""What ai-service holds besides the kit's resources, and the typed dependencies that reach it.

Built once in the app's lifespan (services.ai.app) and kept on `app.state.ai_resources`.
Dependencies are `async def`: a plain `def` one would cost a thread-pool hop per request; each reads
`app.state` itself rather than depending on another dependency (each one FastAPI resolves costs
about 15 µs a request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.ai.generation import ScheduleGenerator
from services.ai.llm import LLMEnricher
from services.ai.planner_pool import PlannerPool
from services.ai.queue_gauge import QueueLengthGauge
from services.ai.repository import ScheduleRepository
from services.ai.schedule_worker import ScheduleWorker
from services.ai.settings import AISettings
from services.kit.outbox import OutboxRelay


@dataclass(frozen=True)
class AIResources:
    settings: AISettings
    schedules: ScheduleRepository
    generator: ScheduleGenerator
    worker: ScheduleWorker
    outbox: OutboxRelay
    planner: PlannerPool
    llm: LLMEnricher | None  # None when no LLM is configured
    queue_gauge: QueueLengthGauge


async def get_ai_resources(request: Request) -> AIResources:
    return request.app.state.ai_resources


AIResourcesDep = Annotated[AIResources, Depends(get_ai_resources)]


async def get_repo(request: Request) -> ScheduleRepository:
    return request.app.state.ai_resources.schedules


async def get_generator(request: Request) -> ScheduleGenerator:
    return request.app.state.ai_resources.generator


async def get_settings(request: Request) -> AISettings:
    return request.app.state.ai_resources.settings


RepoDep = Annotated[ScheduleRepository, Depends(get_repo)]
GeneratorDep = Annotated[ScheduleGenerator, Depends(get_generator)]
SettingsDep = Annotated[AISettings, Depends(get_settings)]
