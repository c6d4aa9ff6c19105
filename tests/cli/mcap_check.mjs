// mcap_check.mjs FILE.mcap — read a file written by `vdds record` with an
// independent MCAP reader (@mcap/core): the indexed reader (which checks the
// footer's summary CRC) for the summary, the stream reader for every record,
// and @foxglove/crc for the Data End CRC. Prints one JSON object; exits 1 on
// anything the readers refuse.
import { readFile } from "node:fs/promises";
import { McapIndexedReader, McapStreamReader } from "@mcap/core";
import { crc32 } from "@foxglove/crc";

const bytes = new Uint8Array(await readFile(process.argv[2]));
const readable = {
  size: async () => BigInt(bytes.byteLength),
  read: async (offset, length) => bytes.subarray(Number(offset), Number(offset + length)),
};
const indexed = await McapIndexedReader.Initialize({ readable });

const stream = new McapStreamReader({ validateCrcs: true });
stream.append(bytes);
const topics = new Map();
const counts = {};
let messages = 0;
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

const stats = indexed.statistics;
const out = {
  channels: Object.fromEntries([...indexed.channelsById.values()].map((c) => [c.topic, counts[c.topic] ?? 0])),
  schemas: [...indexed.schemasById.values()].map((s) => s.name),
  messages,
  statistics_messages: stats ? Number(stats.messageCount) : -1,
  statistics_per_channel: stats ? Object.fromEntries([...stats.channelMessageCounts].map(([id, n]) => [indexed.channelsById.get(id).topic, Number(n)])) : {},
  data_crc_ok: dataEnd !== undefined && dataEnd.dataSectionCrc === dataCrc,
  summary_crc_checked: indexed.footer.summaryCrc !== 0,
  library: indexed.header.library,
};
console.log(JSON.stringify(out));
