"""The plugin contract: every hook plugyard calls, and the only reference a plugin author needs.

A plugin is a module (or a class, instantiated once per host) with functions marked
``@plugyard.hookimpl`` whose names are hook names below. It may implement any subset, and may
accept any subset of a hook's parameters, by name. Declare it in your package's
``pyproject.toml``::

    [project.entry-points.plugyard]
    my_plugin = "my_package.plugin"

Registration hooks run once, at start-up, in a plugin at a time; whatever a plugin
registers is stamped with its name. Hooks stay synchronous: where a hook may need to wait,
it returns an awaitable and the host awaits it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from plugyard.core.calls import ToolCall, ToolOutcome, Veto
    from plugyard.core.host import PluginHost
    from plugyard.core.tools import Tool

PROJECT = "plugyard"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def plugin_settings() -> type[Any] | None:
    """Declare the settings this plugin reads from its ``[plugins.<name>]`` table in plugins.toml.

    Return a pydantic model class. The host validates the table against it at start-up
    (unknown keys and wrong types are errors naming the plugin and the key) and hands the
    instance to tools as ``ctx.settings`` and to ``startup`` through ``host.settings_for(name)``.
    Validation runs with context ``{"base_dir": <folder of plugins.toml>}``, so a validator can
    make relative paths relative to the file. A plugin that declares nothing gets ``None``,
    and a non-empty table for it is an error.
    Secrets belong in the environment, not in the file. ``plugyard plugins`` shows the validated
    settings, defaults included, so the user sees what the plugin runs with: type a secret held in
    the model as ``pydantic.SecretStr`` (shown masked; keys that look secret are masked too).
    """


@hookspec
def register_tools(register: Callable[..., None]) -> None:
    """Register this plugin's tools by calling ``register(fn, **options)`` once per tool.

    ``fn`` is a typed function, sync (run in a worker thread) or async. Its parameters'
    type hints become the tool's JSON input schema; its docstring the description. A parameter
    annotated ``plugyard.ToolContext`` receives the call's context and is left out of the schema.

    Options: ``name`` (default: the function's name; must match ``^[a-zA-Z0-9_-]{1,64}$``),
    ``title``, ``description``, ``timeout`` (seconds; plugins.toml ``[tools.<name>] timeout`` wins),
    ``capabilities`` (strings such as ``"search_notes"`` that workflows ask for),
    ``read_only``, ``destructive``, ``idempotent``, ``open_world`` (hints shown to clients) and
    ``structured_output`` (force structured output on or off) and ``discovery`` (the tool finds
    other tools, a search over ``host.tools``: while tool search is on, ``[server] tool_search``,
    tools/list shows only the pinned tools, the discovery tools and ``call_tool``).

    A ``str`` return is plain text (``structured_output=True`` publishes it as ``{"result": ...}``);
    other typed values (numbers, dicts, models) are sent as structured content with their output
    schema. A tool may also return MCP content: ``plugyard.Text``, ``Image``, ``Audio``, ``EmbeddedResource``,
    ``ResourceLink``, a list mixing them with strings (declare it in the return type, e.g.
    ``list[str | plugyard.Image]``, so no output schema is derived), or ``plugyard.ToolResult``
    (content plus structured content; ``Annotated[plugyard.ToolResult, Model]`` publishes ``Model``
    as the output schema). From the ``ToolContext``: ``report_progress``, ``log(level, message)``,
    ``sample(prompt)`` (the client's model), ``elicit(message, Model)`` (the user) and
    ``notify_resource_updated(uri)``. A tool that samples or elicits may run again from the top once
    the client answered: keep what comes before the question safe to repeat
    (see docs/architecture.md, "Input required").

    From a JSON schema instead of a signature (a tool whose shape is known only at run time, such as
    another MCP server's): ``register(fn, name=..., input_schema={...}, output_schema={...})``. The
    schemas are published as given (``$schema`` included); each call's arguments are validated against
    ``input_schema`` with ``jsonschema`` (its ``$schema`` dialect, else 2020-12) and handed to ``fn`` as
    one mapping, its one parameter besides a ``ToolContext``; a mapping it returns is the structured
    content. Return ``plugyard.RawResult`` to forward an MCP result exactly as it is (every content kind,
    structured content, ``_meta``; ``is_error=True`` is recorded as a failed call and reaches the client
    unchanged). ``source`` (a string, any tool) names where its answers come from beyond the plugin,
    such as an upstream server: it is recorded with each call.

    A plugin whose tools change while it serves calls ``await host.reregister(host.name_of(self))``:
    this hook, ``register_resources`` and ``register_prompts`` run again, what they register replaces
    what the plugin registered before, and clients are told the lists changed.

    A name already registered by another plugin is an error naming both plugins.
    """


@hookspec
def register_resources(register: Callable[..., None]) -> None:
    """Register resources and resource templates by calling ``register(fn, uri=..., **options)``.

    ``fn`` returns the contents: ``str`` (text), ``bytes`` (binary) or anything JSON-serialisable
    (sent as ``application/json`` text); sync functions run in a worker thread. A ``uri`` with
    ``{name}`` variables (``{+name}`` also matches ``/``) is a template, such as
    ``"notes://{path}"``: ``fn``'s parameters are the variables, filled from the URI the client reads.
    A parameter annotated ``plugyard.ResourceContext`` receives the reader (``user_id``, ``session_id``:
    the same user a tool call of that client records), so a resource can show each user their own data.

    Options: ``name`` (default: the function's name), ``title``, ``description`` (default: the
    docstring), ``mime_type`` and ``complete`` (``{variable: choices}`` for argument completion,
    where choices is a list of strings filtered by what the user typed, or a function
    ``(value, arguments) -> list[str]``, sync or async).

    Tell subscribed clients that contents changed with ``ctx.notify_resource_updated(uri)`` from a
    tool, or ``host.notify_resource_updated(uri)`` (keep the host from ``startup``).
    A URI already registered by another plugin is an error naming both plugins.
    """


@hookspec
def register_prompts(register: Callable[..., None]) -> None:
    """Register prompts (message templates clients offer as commands) by calling ``register(fn, **options)``.

    ``fn``'s parameters are the prompt's arguments (strings; one with a default is optional) and its
    docstring the description. It returns a string (one user message), a ``plugyard.PromptMessage``
    (``role`` and a string or content block such as ``plugyard.EmbeddedResource``), or a list of
    these; sync or async.

    Options: ``name`` (default: the function's name), ``title``, ``description``, ``arguments``
    (``{argument: description}``) and ``complete`` (``{argument: choices}``, as for resources).
    A name already registered by another plugin is an error naming both plugins.
    """


@hookspec
def register_intent_classifiers(register: Callable[..., None]) -> None:
    """Register intent classifiers by calling ``register(classifier, name=None, weight=1.0, fallback=False)``.

    A classifier has a method ``classify(message: str)`` returning a ``plugyard.IntentResult``
    or ``None`` (no opinion); it may be sync or async. The host combines every classifier's
    results, weighted by confidence and ``weight`` (``IntentResult.scores``, when given, spread a
    classifier's vote over several intents). A ``fallback`` classifier (a language model, say) is
    asked only when the others together stay below the quick_task confidence threshold.

    A classifier that raises is ignored; let ``plugyard.InputRequired`` (from ``plugyard.ask_model``)
    through and build the prompt from the message alone (see docs/architecture.md, "Input required").
    """


@hookspec
def register_workflows(register: Callable[..., None]) -> None:
    """Register workflows by calling ``register(workflow)`` (a class or an instance).

    A workflow is a ``plugyard.Workflow``: a ``name``, the ``intents`` it handles, a typed
    ``State`` (a ``plugyard.WorkflowState``) and async methods marked ``@plugyard.step`` that
    return partial state updates; ``next=`` / ``plugyard.branch(...)`` are its edges. The graph is
    checked here (one start step, known targets, every step reachable): an invalid one fails the
    plugin's registration. A plugin that runs workflows for users (the assistant) picks one for an
    intent that needs collaboration; a tool declaring the capability ``"run_workflow"`` (taking the
    user's request as ``message``) gets one prompt per workflow, ``run_<workflow>``, pointing at it.

    A step that raises fails the run; ``plugyard.InputRequired`` (from ``run.ask`` / ``run.complete``)
    instead stops the round, and the retry runs the workflow again as a new run: word a step's
    questions from its state alone, and keep what comes before them safe to repeat
    (see docs/architecture.md, "Input required").
    """


@hookspec(firstresult=True)
def choose_tool(capability: str, candidates: Sequence[Tool], user_id: str, intent: str | None) -> Tool | None:
    """Pick the tool a workflow step should call for ``capability`` among ``candidates`` (every
    registered tool declaring it, in registration order; never empty).

    The first implementation that returns a tool wins; return ``None`` to leave the choice to
    others. With no implementation, or none answering, the first candidate is used. The history
    plugin's preference router answers from what past calls say about this user and intent.
    """


@hookspec(firstresult=True)
def rank_tools(tools: Sequence[Tool], user_id: str) -> Sequence[Tool] | None:
    """Order ``tools`` (every registered tool, in registration order) for ``user_id``, best first.

    Called for ``tools/list`` when plugins.toml sets ``[server] rank_tools = true``; the host then
    puts ``pinned_tools`` first and lists at most ``max_listed_tools``. The first implementation that
    returns a sequence wins; return ``None`` to leave the order alone. It runs on every listing:
    answer from memory. The history plugin's preference router answers with the user's learned order.
    """


@hookspec
def before_tool_call(call: ToolCall) -> Veto | Awaitable[Veto | None] | None:
    """Called before every tool call, after its arguments were validated.

    Return ``plugyard.Veto(reason)`` (or an awaitable of one) to refuse the call: the caller
    gets the reason, and the refusal is recorded. Return ``None`` to let it run. An
    implementation that raises is logged and ignored; it never stops the call.
    """


@hookspec
def after_tool_call(call: ToolCall, outcome: ToolOutcome) -> Awaitable[None] | None:
    """Called after every tool call that reached its tool: success, failure, timeout or veto,
    and calls whose arguments failed validation.

    ``outcome`` holds ``success``, ``result``, ``error_type``, ``error_message``,
    ``duration_ms`` and ``result_size``. Keep it fast: it runs on the call's path (the
    history recorder only enqueues). An implementation that raises is logged and ignored.
    """


@hookspec
def startup(host: PluginHost) -> Awaitable[None] | None:
    """Called once when the host starts, before the first tool call.

    Use ``host.settings_for(host.name_of(self))`` for settings (``host.name_of(plugin)`` is the name
    the host loaded it under: never hard-code it; in a module plugin, pass the module), ``host.config``
    for the global configuration and ``host.start_background(async_fn)`` for tasks that live until
    shutdown. Keep state on the plugin object, not in module globals: make the plugin a class (the
    host makes one instance per host) when it has any, since two hosts live side by side during a
    live reload. May return an awaitable. A failure here is reported like a load error.
    """


@hookspec
def shutdown(host: PluginHost) -> Awaitable[None] | None:
    """Called once when the host stops (end of input, SIGINT or SIGTERM), after the last call.

    Flush and close what ``startup`` opened; it is awaited, shielded from cancellation.
    Background tasks are cancelled after every ``shutdown`` implementation returned.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add command-line commands to ``plugyard``: ``@cli.command()``, ``@cli.group()`` or
    ``cli.add_command(command)`` with ordinary click commands (``plugyard NAME ...``).

    Called by the ``plugyard`` command only, when a command that is not built in is asked for
    (or ``--help`` lists them): never by a server. ``cli`` collects this plugin's commands; a name
    that a built-in command or another plugin already has is an error naming both, and is skipped.
    Inside a command, ``click.get_current_context().obj.config`` is the ``Config`` that ``--config``
    chose. Exit codes follow plugyard's: 0 success, 1 a call failed, 2 usage (``click.UsageError``,
    ``click.BadParameter``), 3 configuration or database errors. When the plugin is disabled or fails
    to load, its commands are absent and asking for one says so, naming the plugin.
    An implementation that raises is logged and its commands are absent.
    """


@hookspec
def health(host: PluginHost) -> Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None:
    """Report this plugin's health for ``GET /healthz`` (and ``plugyard.core.health.check``).

    Return a JSON-serialisable mapping with a boolean ``healthy`` and whatever explains it (the
    history plugin reports ``database``, ``schema`` and ``queue``), or an awaitable of one; return
    ``None`` to report nothing. Reports are gathered concurrently; the server is healthy when every
    plugin that reports says ``healthy: true``. A report that does not come within the check's time
    limit, raises, or has no boolean ``healthy`` counts as unhealthy, with the reason. Keep it cheap
    (a load balancer asks every few seconds) and judge only what makes this server unable to serve.
    """


@hookspec
def adopt_servers(servers: Mapping[str, Mapping[str, Any]], current: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Offer to take over MCP servers a desktop client starts (``plugyard install CLIENT --adopt``).

    ``servers`` maps each server's name to its entry as the client's file has it (``command``, ``args``,
    ``env``, or ``url``, ``headers``; VS Code adds ``type``), plugyard's own entry left out; ``current`` is
    this plugin's ``[plugins.<name>]`` table as plugins.toml has it now. Return
    ``{"settings": {...}, "adopted": [names], "skipped": {name: why}}``: ``settings`` is merged into this
    plugin's ``[plugins.<name>]`` table in plugins.toml (nested tables of strings, numbers, booleans,
    lists), the ``adopted`` servers are removed from the client's file (plugyard serves them), the
    ``skipped`` ones stay there; ``notes`` (a list of strings, optional) are shown to the user. The first
    plugin that returns a mapping adopts; return ``None`` to pass. Only the command line calls it, on a
    loaded host that is not started.
    """


@hookspec
def plugin_state(host: PluginHost) -> Mapping[str, Any] | None:
    """What ``plugyard plugins`` shows for this plugin beside its settings (``state`` in ``--json``):
    a JSON-serialisable mapping, or ``None`` for nothing. Called on a loaded host that is not started
    (the command starts no plugin): keep it cheap, such as reading what a running server last wrote.
    An implementation that raises is shown as its error.
    """
