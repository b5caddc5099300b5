"""Ready-to-paste setup for each client people point at the proxy.

One recipe per client, each a block that works pasted as it is (a shell block into a shell,
a TOML block into Codex's config.toml). The tray copies them one at a time and the README's
client setup section is generated from them (``scripts/client_docs.py``), so the two never
disagree. ``tested`` says where the test suite runs that client for real.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    id: str
    client: str
    where: str  # where the block goes
    language: str  # the README's code fence
    template: str  # {base} and {key} are filled in
    note: str = ""
    tested: str = ""  # the test module that runs this client, if any

    def render(self, base_url: str, api_key: str | None) -> str:
        return self.template.format(base=base_url, key=api_key or "unused")


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "claude-code",
        "Claude Code",
        "a shell",
        "bash",
        "export ANTHROPIC_BASE_URL={base}\nexport ANTHROPIC_API_KEY={key}\nclaude\n",
        "It runs its own tools on your machine as usual; the proxy only answers for the model.",
        "tests/clients/test_claude_code.py",
    ),
    Recipe(
        "codex",
        "Codex CLI",
        "~/.codex/config.toml",
        "toml",
        'model = "sonnet"\n'
        'model_provider = "claude-sdk-proxy"\n'
        "model_context_window = 200000\n"
        "model_auto_compact_token_limit = 160000\n"
        "\n"
        "[model_providers.claude-sdk-proxy]\n"
        'name = "claude-sdk-proxy"\n'
        'base_url = "{base}/v1"\n'
        'wire_api = "responses"\n',
        'With a proxy key, add env_key = "CLAUDE_PROXY_API_KEY" to the provider and export it.',
        "tests/clients/test_codex.py",
    ),
    Recipe(
        "anthropic-python",
        "Anthropic SDK (Python)",
        "Python",
        "python",
        'import anthropic\n\nclient = anthropic.Anthropic(base_url="{base}", api_key="{key}")\n',
        "",
        "tests/api/test_messages.py",
    ),
    Recipe(
        "openai-python",
        "OpenAI SDK (Python): chat completions and the Responses API",
        "Python",
        "python",
        'from openai import OpenAI\n\nclient = OpenAI(base_url="{base}/v1", api_key="{key}")\n',
        "",
        "tests/api/test_openai.py, tests/api/test_responses.py",
    ),
    Recipe(
        "node-sdks",
        "Anthropic and OpenAI SDKs (JavaScript)",
        "JavaScript",
        "js",
        'import Anthropic from "@anthropic-ai/sdk";\n'
        'import OpenAI from "openai";\n\n'
        'const anthropic = new Anthropic({{ baseURL: "{base}", apiKey: "{key}" }});\n'
        'const openai = new OpenAI({{ baseURL: "{base}/v1", apiKey: "{key}" }});\n',
        "",
        "tests/clients/test_node_sdks.py",
    ),
    Recipe(
        "agents-sdk",
        "OpenAI Agents SDK (Python)",
        "Python",
        "python",
        "from agents import OpenAIProvider, RunConfig\n"
        "from openai import AsyncOpenAI\n\n"
        'client = AsyncOpenAI(base_url="{base}/v1", api_key="{key}")\n'
        "config = RunConfig(model_provider=OpenAIProvider(openai_client=client), "
        "tracing_disabled=True)\n"
        "# Runner.run(agent, prompt, run_config=config)\n",
        "Tracing is off: it would upload to OpenAI.",
        "tests/clients/test_agents_sdk.py",
    ),
    Recipe(
        "ai-sdk",
        "AI SDK (JavaScript)",
        "JavaScript",
        "js",
        'import {{ createOpenAI }} from "@ai-sdk/openai";\n\n'
        'const provider = createOpenAI({{ baseURL: "{base}/v1", apiKey: "{key}" }});\n'
        'const model = provider("gpt-4o"); // the Responses API\n',
        "",
        "tests/clients/test_ai_sdk.py",
    ),
    Recipe(
        "langchain",
        "LangChain (Python)",
        "Python",
        "python",
        "from langchain_anthropic import ChatAnthropic\n"
        "from langchain_openai import ChatOpenAI\n\n"
        "claude = ChatAnthropic(\n"
        '    model="claude-sonnet-4-5", base_url="{base}", api_key="{key}"\n'
        ")\n"
        'gpt_style = ChatOpenAI(model="gpt-4o", base_url="{base}/v1", api_key="{key}")\n',
        "",
        "tests/api/test_frameworks.py",
    ),
    Recipe(
        "litellm",
        "LiteLLM (Python)",
        "Python",
        "python",
        "import litellm\n\n"
        "reply = litellm.completion(\n"
        '    model="anthropic/claude-sonnet-4-5",\n'
        '    api_base="{base}",\n'
        '    api_key="{key}",\n'
        '    messages=[{{"role": "user", "content": "Hi"}}],\n'
        ")\n",
        "For a team, see the LiteLLM Router recipe.",
        "tests/clients/test_litellm_router.py",
    ),
    Recipe(
        "aider",
        "Aider",
        "a shell",
        "bash",
        "aider --openai-api-base {base}/v1 --openai-api-key {key} --model openai/sonnet\n",
        "The OpenAI route: Aider (through LiteLLM) sends `sonnet`, which the proxy resolves.",
    ),
    Recipe(
        "cline",
        "Cline (VS Code)",
        "Cline's settings",
        "text",
        "API Provider: Anthropic\n"
        "Use custom base URL: {base}\n"
        "API Key: {key}\n"
        "Model: claude-sonnet-4-5\n",
    ),
    Recipe(
        "continue",
        "Continue (VS Code, JetBrains)",
        "~/.continue/config.yaml, under models:",
        "yaml",
        "  - name: Claude (claude-sdk-proxy)\n"
        "    provider: openai\n"
        "    model: sonnet\n"
        "    apiBase: {base}/v1\n"
        "    apiKey: {key}\n",
    ),
    Recipe(
        "open-webui",
        "Open WebUI",
        "Admin Settings > Connections > OpenAI API",
        "text",
        "URL: {base}/v1\nKey: {key}\n",
        "From its container, 127.0.0.1 is the container: bind the proxy to the network (with a "
        "key) and use the host's address, e.g. http://host.docker.internal:3456/v1.",
    ),
    Recipe(
        "librechat",
        "LibreChat",
        "librechat.yaml, under endpoints: custom:",
        "yaml",
        '    - name: "Claude (claude-sdk-proxy)"\n'
        '      apiKey: "{key}"\n'
        '      baseURL: "{base}/v1"\n'
        "      models:\n"
        '        default: ["sonnet", "opus", "haiku"]\n',
        "As with Open WebUI, a container needs the host's address, not 127.0.0.1.",
    ),
    Recipe(
        "zed",
        "Zed",
        "Zed's settings.json",
        "json",
        '"language_models": {{\n'
        '  "openai_compatible": {{\n'
        '    "claude-sdk-proxy": {{\n'
        '      "api_url": "{base}/v1",\n'
        '      "available_models": [\n'
        '        {{ "name": "sonnet", "display_name": "Claude Sonnet (proxy)", '
        '"max_tokens": 200000 }}\n'
        "      ]\n"
        "    }}\n"
        "  }}\n"
        "}}\n",
        "Zed's Anthropic provider does not read ANTHROPIC_BASE_URL; its OpenAI-compatible "
        "provider takes an api_url. Enter the key in the agent settings' LLM providers.",
    ),
    Recipe(
        "cursor",
        "Cursor",
        "Cursor Settings > Models > OpenAI API Key",
        "text",
        "Override OpenAI Base URL: https://<your-host>/v1\nOpenAI API Key: {key}\n",
        "Cursor calls the base URL from its own servers, so it needs a public https address: "
        "run the proxy behind the Caddy kit (Run on a server) with a key, never on 127.0.0.1.",
    ),
)


def recipe(recipe_id: str) -> Recipe:
    for candidate in RECIPES:
        if candidate.id == recipe_id:
            return candidate
    raise KeyError(recipe_id)
