// mcap_check.mjs — the independent MCAP implementation (@mcap/core) the
// vdds command's tests check against, with zstd and lz4 for chunks.
//   node mcap_check.mjs FILE.mcap [--dump OUT]
//     reads a file written by `vdds record` with the indexed reader (summary,
//     chunk and message indexes, readMessages()) and the stream reader (every
//     record, CRCs validated), and @foxglove/crc for the Data End CRC; prints
//     one JSON object; exits 1 on anything the readers refuse. --dump writes
//     the indexed reader's messages, one "topic hex" line each, in log-time
//     order (file order within a time).
//   node mcap_check.mjs write OUT.mcap MODE N LOG
//     writes N messages alternating between topics w1 and w2 with
//     @mcap/core's writer, MODE zstd, lz4, none (chunked) or unchunked, and
//     logs each as cli_peer does ("topic hex publish_ns 0").
import { readFile, writeFile, open } from "node:fs/promises";
import { McapIndexedReader, McapStreamReader, McapWriter } from "@mcap/core";
import { crc32 } from "@foxglove/crc";
import * as zstd from "@foxglove/wasm-zstd";
import lz4decompress from "@foxglove/wasm-lz4";
import lz4js from "lz4js";

await zstd.isLoaded;
await lz4decompress.isLoaded;
const decompressHandlers = {
  zstd: (data, size) => zstd.decompress(data, Number(size)),
  lz4: (data, size) => lz4decompress(data, Number(size)),
};
const hex = (b) => (b.length ? Buffer.from(b).toString("hex") : "-");

async function write(path, mode, n, logPath) {
  const f = await open(path, "w");
  let pos = 0n;
  const writable = {
    position: () => pos,
    write: async (buf) => {
      await f.write(buf);
      pos += BigInt(buf.byteLength);
    },
  };
  const compressChunk =
    mode === "zstd"
      ? (d) => ({ compression: "zstd", compressedData: zstd.compress(d, 3) })
      : mode === "lz4"
        ? (d) => ({ compression: "lz4", compressedData: lz4js.compress(d) })
        : undefined;
  const w = new McapWriter({ writable, useChunks: mode !== "unchunked", chunkSize: 4096, compressChunk });
  await w.start({ profile: "", library: "mcap_check.mjs" });
  const schema = await w.registerSchema({ name: "pose", encoding: "", data: new Uint8Array() });
  const ids = {};
  for (const t of ["w1", "w2"])
    ids[t] = await w.registerChannel({ topic: t, schemaId: schema, messageEncoding: "x-vdds-raw", metadata: new Map() });
  const t0 = 1_700_000_000_000_000_000n;
  const log = [];
  for (let i = 0; i < n; i++) {
    const topic = i % 2 ? "w2" : "w1";
    const data = new Uint8Array(1 + ((i * 37) % 300)).map((_, k) => (i * 131 + k * 7) & 255);
    const time = t0 + BigInt(i) * 2_000_000n; // 2 ms apart
    await w.addMessage({ channelId: ids[topic], sequence: i + 1, logTime: time, publishTime: time, data });
    log.push(`${topic} ${hex(data)} ${time} 0`);
  }
  await w.end();
  await f.close();
  await writeFile(logPath, log.join("\n") + "\n");
}

async function check(path, dumpPath) {
  const bytes = new Uint8Array(await readFile(path));
  const readable = {
    size: async () => BigInt(bytes.byteLength),
    read: async (offset, length) => bytes.subarray(Number(offset), Number(offset + length)),
  };
  const indexed = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  const indexedCounts = {};
  const dump = [];
  let indexedMessages = 0;
  for await (const m of indexed.readMessages()) {
    const topic = indexed.channelsById.get(m.channelId).topic;
    indexedCounts[topic] = (indexedCounts[topic] ?? 0) + 1;
    indexedMessages++;
    if (dumpPath) dump.push(`${topic} ${hex(m.data)}`);
  }
  if (dumpPath) await writeFile(dumpPath, dump.join("\n") + (dump.length ? "\n" : ""));

  const stream = new McapStreamReader({ validateCrcs: true, decompressHandlers });
  stream.append(bytes);
  const topics = new Map();
  const counts = {};
  let messages = 0;
  let chunks = 0;
  let dataEnd;
  for (let rec; (rec = stream.nextRecord()); ) {
    if (rec.type === "Channel") topics.set(rec.id, rec.topic);
    if (rec.type === "Message") {
      const topic = topics.get(rec.channelId);
      counts[topic] = (counts[topic] ?? 0) + 1;
      messages++;
    }
    if (rec.type === "DataEnd" && dataEnd === undefined) dataEnd = rec;
  }
  if (!stream.done()) throw new Error("the stream reader did not reach the footer");
  // the Data End record (13 bytes) sits right before the summary the footer
  // points at; its CRC covers every byte before it
  const dataEndOffset = Number(indexed.footer.summaryStart) - 13;
  if (bytes[dataEndOffset] !== 0x0f) throw new Error("no Data End before the summary");
  const dataCrc = crc32(bytes.subarray(0, dataEndOffset));
  chunks = indexed.chunkIndexes.length;

  const stats = indexed.statistics;
  const out = {
    channels: Object.fromEntries([...indexed.channelsById.values()].map((c) => [c.topic, counts[c.topic] ?? 0])),
    indexed_channels: Object.fromEntries([...indexed.channelsById.values()].map((c) => [c.topic, indexedCounts[c.topic] ?? 0])),
    schemas: [...new Set([...indexed.schemasById.values()].map((s) => s.name))],
    messages,
    indexed_messages: indexedMessages,
    chunks,
    compression: [...new Set(indexed.chunkIndexes.map((c) => c.compression))],
    statistics_messages: stats ? Number(stats.messageCount) : -1,
    statistics_chunks: stats ? Number(stats.chunkCount) : -1,
    statistics_per_channel: stats
      ? Object.fromEntries([...stats.channelMessageCounts].map(([id, n]) => [indexed.channelsById.get(id).topic, Number(n)]))
      : {},
    data_crc_ok: dataEnd !== undefined && dataEnd.dataSectionCrc === dataCrc,
    summary_crc_checked: indexed.footer.summaryCrc !== 0,
    library: indexed.header.library,
  };
  console.log(JSON.stringify(out));
}

const args = process.argv.slice(2);
if (args[0] === "write") await write(args[1], args[2], Number(args[3]), args[4]);
else await check(args[0], args[1] === "--dump" ? args[2] : undefined);
