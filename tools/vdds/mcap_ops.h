/* mcap_ops.h — the MCAP opcodes and magic (mcap.dev/spec), shared by the
 * writer and the reader and by nothing else. */
#ifndef VDDS_CLI_MCAP_OPS_H
#define VDDS_CLI_MCAP_OPS_H

enum {
	OP_HEADER = 0x01,
	OP_FOOTER = 0x02,
	OP_SCHEMA = 0x03,
	OP_CHANNEL = 0x04,
	OP_MESSAGE = 0x05,
	OP_CHUNK = 0x06,
	OP_MESSAGE_INDEX = 0x07,
	OP_CHUNK_INDEX = 0x08,
	OP_ATTACHMENT = 0x09,
	OP_STATISTICS = 0x0b,
	OP_METADATA = 0x0c,
	OP_SUMMARY_OFFSET = 0x0e,
	OP_DATA_END = 0x0f,
};

static const unsigned char mcap_magic[8] = { 0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n' };

#endif
