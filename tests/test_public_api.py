"""The public face is a promise to plugin authors: changes to it are deliberate."""

import plugyard


def test_the_public_names_are_pinned():
    assert sorted(plugyard.__all__) == sorted(
        [
            "END",
            "INTENTS",
            "PROMPT_NAME",
            "TOOL_NAME",
            "ActionCard",
            "Audio",
            "ClientFeatureUnavailable",
            "Elicitation",
            "EmbeddedResource",
            "Image",
            "InputRequired",
            "PromptMessage",
            "RawResult",
            "ResourceContext",
            "ResourceLink",
            "Text",
            "ToolResult",
            "Run",
            "WorkflowRequest",
            "WorkflowState",
            "ask_model",
            "ask_model_text",
            "branch",
            "data_dir",
            "detect_language",
            "step",
            "ConfigError",
            "HistoryError",
            "IntentClassifier",
            "IntentResult",
            "InvalidArguments",
            "PluginError",
            "PlugyardError",
            "SchemaBehind",
            "Tool",
            "ToolCall",
            "ToolCallError",
            "ToolContext",
            "ToolFailed",
            "ToolNameClash",
            "ToolOutcome",
            "ToolResultError",
            "ToolTimeout",
            "ToolVetoed",
            "UnknownTool",
            "Veto",
            "Workflow",
            "__version__",
            "hookimpl",
        ]
    )
    for name in plugyard.__all__:
        assert hasattr(plugyard, name), name


def test_every_error_shares_one_root():
    exported = [getattr(plugyard, n) for n in plugyard.__all__]
    errors = [e for e in exported if isinstance(e, type) and issubclass(e, BaseException)]
    assert len(errors) >= 12
    assert [e.__name__ for e in errors if not issubclass(e, plugyard.PlugyardError)] == []


def test_every_hook_has_a_docstring():
    from plugyard.core import hookspecs

    specs = [getattr(hookspecs, n) for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "plugyard_spec")]
    assert len(specs) == 16
    assert all(spec.__doc__ and len(spec.__doc__.strip()) > 40 for spec in specs)
