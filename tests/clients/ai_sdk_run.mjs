// Runs the AI SDK's OpenAI provider (Responses API by default) against a base URL given as
// argv[2]: a tool loop with generateText, then streamText. Prints one JSON line of results.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const provider = createOpenAI({ baseURL: process.argv[2], apiKey: "unused" });
const executed = [];
const getWeather = tool({
  description: "Current weather for a city.",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    executed.push(city);
    return `sunny in ${city}`;
  },
});

const looped = await generateText({
  model: provider("gpt-4o"),
  prompt: "Weather in Paris?",
  tools: { get_weather: getWeather },
  stopWhen: stepCountIs(3),
});
const streamed = streamText({ model: provider("gpt-4o"), prompt: "Say hi." });
const pieces = [];
for await (const piece of streamed.textStream) pieces.push(piece);

console.log(
  JSON.stringify({
    text: looped.text,
    steps: looped.steps.length,
    executed,
    usage: looped.totalUsage,
    streamedText: pieces.join(""),
    streamedPieces: pieces.length,
    finishReason: await streamed.finishReason,
  }),
);
