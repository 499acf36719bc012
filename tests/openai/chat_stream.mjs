// The official OpenAI client (npm package `openai`) against pdvm serve: a
// streaming chat completion, printed as it arrives. Exits non-zero unless
// the stream brought text and ended with a finish reason, and a second,
// non-streaming request gets the same text (greedy).
// Usage: node chat_stream.mjs BASE_URL NODE_MODULES_PARENT
import { createRequire } from 'node:module';

const [baseURL, prefix] = process.argv.slice(2);
const require = createRequire(`${prefix}/`);
const { default: OpenAI } = await import(require.resolve('openai'));
const client = new OpenAI({ baseURL, apiKey: 'pdvm-test-key' });
const messages = [
  { role: 'system', content: 'You tell short stories.' },
  { role: 'user', content: 'Tell me about a dog.' },
];

const models = await client.models.list();
console.log(`models: ${models.data.map((m) => m.id).join(', ')}`);

const stream = await client.chat.completions.create({
  model: models.data[0].id, messages, max_tokens: 32, temperature: 0, stream: true,
});
let text = '';
let finish = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  const c = chunk.choices[0];
  if (c?.delta?.content) {
    text += c.delta.content;
    process.stdout.write(c.delta.content);
  }
  if (c?.finish_reason) finish = c.finish_reason;
}
console.log(`\nstream: ${chunks} chunks, finish_reason ${finish}`);

const whole = await client.chat.completions.create({
  model: models.data[0].id, messages, max_tokens: 32, temperature: 0,
});
const c = whole.choices[0];
console.log(`non-streaming: finish_reason ${c.finish_reason}, usage ${JSON.stringify(whole.usage)}`);

const ok = text.length > 0 && finish === 'length' && c.message.content === text &&
  whole.usage.completion_tokens === 32;
console.log(ok ? 'openai client: OK' : 'openai client: MISMATCH');
process.exit(ok ? 0 : 1);
