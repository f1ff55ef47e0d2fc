"""A plugin that uses every MCP feature, through the public face only (as a third party would)."""

from __future__ import annotations

from typing import Annotated

import pydantic

import plugyard

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "
NOTES = {"alpha": "first note", "beta": "second note"}


class Weather(pydantic.BaseModel):
    city: str
    celsius: float


class Confirm(pydantic.BaseModel):
    ok: bool
    name: str = "anonymous"


_host: list[object] = []


@plugyard.hookimpl
def startup(host: object) -> None:
    _host[:] = [host]


@plugyard.hookimpl
def register_resources(register):
    def readme() -> str:
        """The plugin's readme."""
        return "# Feature plugin"

    def logo() -> bytes:
        return PNG

    def note(name: str) -> str:
        """One note by name."""
        if name not in NOTES:
            raise KeyError(f"no note {name!r}")
        return NOTES[name]

    def counts(kind: str, day: str) -> dict[str, object]:
        return {"kind": kind, "day": day, "count": 3}

    register(readme, uri="feature://readme", mime_type="text/markdown")
    register(logo, uri="feature://logo.png", name="logo", mime_type="image/png")
    register(
        note, uri="feature://notes/{name}", complete={"name": lambda value: [n for n in NOTES if n.startswith(value)]}
    )
    register(counts, uri="feature://counts/{kind}/{day}", complete={"kind": ["calls", "cards", "errors"]})


@plugyard.hookimpl
def register_prompts(register):
    def review(code: str, language: str = "python") -> str:
        """Ask for a code review."""
        return f"Review this {language} code:\n{code}"

    async def explain(topic: str) -> list[plugyard.PromptMessage]:
        """Explain a topic with a reference attached."""
        return [
            plugyard.PromptMessage(role="assistant", content="I will explain it."),
            plugyard.PromptMessage(content=f"Explain {topic}"),
            plugyard.PromptMessage(content=plugyard.EmbeddedResource(uri="feature://readme", text="# Feature plugin")),
            plugyard.PromptMessage(content=plugyard.Image(data=PNG)),
        ]

    register(review, arguments={"code": "The code to review"}, complete={"language": ["python", "perl", "rust"]})
    register(explain, title="Explain")


@plugyard.hookimpl
def register_tools(register):
    def picture() -> plugyard.Image:
        """A small picture."""
        return plugyard.Image(data=PNG)

    def mixed() -> list[str | plugyard.Image | plugyard.Audio | plugyard.EmbeddedResource | plugyard.ResourceLink]:
        """Text, an image, audio, an embedded resource and a resource link."""
        return [
            "here you go",
            plugyard.Image(data=PNG, mime_type="image/png"),
            plugyard.Audio(data=WAV, mime_type="audio/wav"),
            plugyard.EmbeddedResource(uri="feature://logo.png", blob=PNG, mime_type="image/png"),
            plugyard.ResourceLink(uri="feature://readme", name="readme", mime_type="text/markdown"),
        ]

    def weather(city: str) -> Weather:
        """Structured output with an output schema."""
        return Weather(city=city, celsius=21.5)

    def report(city: str) -> Annotated[plugyard.ToolResult, Weather]:
        """Content blocks and structured content side by side."""
        return plugyard.ToolResult(
            content=[f"{city}: sunny", plugyard.Image(data=PNG)],
            structured=Weather(city=city, celsius=19.0),
        )

    async def chatty(steps: int, ctx: plugyard.ToolContext) -> str:
        """Reports progress and logs."""
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
            await ctx.log("info", f"did step {i + 1}")
        await ctx.log("debug", "debug detail")
        return "done"

    async def haiku(topic: str, ctx: plugyard.ToolContext) -> str:
        """Asks the client's model."""
        return await ctx.sample(f"A haiku about {topic}", max_tokens=50)

    async def sign_up(ctx: plugyard.ToolContext) -> str:
        """Asks the user twice."""
        first = await ctx.elicit("Proceed?", Confirm)
        if not first.accepted:
            return f"stopped: {first.action}"
        assert first.data is not None
        again = await ctx.elicit(f"Really sign up {first.data.name}?", Confirm)
        return f"signed up {first.data.name}" if again.accepted and again.data and again.data.ok else "not confirmed"

    async def touch(name: str, ctx: plugyard.ToolContext) -> str:
        """Changes a note and tells subscribers."""
        NOTES[name] = NOTES.get(name, "") + "!"
        await ctx.notify_resource_updated(f"feature://notes/{name}")
        return NOTES[name]

    for fn in (picture, mixed, weather, report, chatty, haiku, sign_up, touch):
        register(fn)
