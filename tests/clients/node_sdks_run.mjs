// The official node SDKs against a proxy base URL (argv[2]), each plain, streamed and with a
// tool call, configured as the README's recipe says. Prints one JSON line of results.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

const base = process.argv[2];
const anthropic = new Anthropic({ baseURL: base, apiKey: "unused", maxRetries: 0 });
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0 });
const weather = {
  name: "get_weather",
  description: "Current weather for a city.",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const hi = [{ role: "user", content: "hi" }];

const plain = await anthropic.messages.create({ model: "sonnet", max_tokens: 64, messages: hi });
const stream = anthropic.messages.stream({ model: "sonnet", max_tokens: 64, messages: hi });
const streamed = await stream.finalMessage();
const tool = await anthropic.messages.create({
  model: "sonnet", max_tokens: 64, messages: hi, tools: [weather],
});

const chat = await openai.chat.completions.create({ model: "gpt-4o", messages: hi });
const chunks = [];
for await (const chunk of await openai.chat.completions.create({
  model: "gpt-4o", messages: hi, stream: true,
})) chunks.push(chunk.choices[0]?.delta?.content ?? "");
const call = await openai.chat.completions.create({
  model: "gpt-4o",
  messages: hi,
  tools: [{ type: "function", function: { name: weather.name, description: weather.description,
    parameters: weather.input_schema } }],
});
const response = await openai.responses.create({ model: "gpt-4o", input: "hi" });

console.log(JSON.stringify({
  anthropicPlain: plain.content[0].text,
  anthropicStreamed: streamed.content[0].text,
  anthropicTool: tool.content.find((b) => b.type === "tool_use")?.input,
  chatPlain: chat.choices[0].message.content,
  chatStreamed: chunks.join(""),
  chatTool: JSON.parse(call.choices[0].message.tool_calls[0].function.arguments),
  responsesText: response.output_text,
}));
