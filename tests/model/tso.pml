/* tso.pml — x86-TSO store buffers for the vdds Promela models (included by
 * each model; not a model itself).
 *
 * Promela is sequentially consistent; x86-64 is not: a store waits in the
 * storing CPU's FIFO store buffer while later loads of other words go to
 * memory, so a store can be seen after a later load (store->load reordering),
 * the one reordering x86 makes and the one vdds__fence() exists for. Here
 * every store to a shared word goes into its process's buffer; a drainer
 * process per buffer writes the oldest entry to memory whenever it likes;
 * a load returns the newest buffered store to the same word (store
 * forwarding) or else memory. A full fence (atomic_thread_fence(seq_cst),
 * MFENCE / LOCK-prefixed instruction) waits until the own buffer is empty.
 * Locked read-modify-writes (atomic_exchange, compare-and-swap) and system
 * calls that take a kernel lock (eventfd write, epoll_wait) are full
 * barriers on x86: they wait for an empty buffer, then act on memory
 * atomically. Acquire loads and release stores are plain loads and stores
 * on x86, so they need nothing more here.
 *
 * The includer defines NVAR (shared words) and NSB (processes with a store
 * buffer, numbered from 0) before including this file, and includes it before
 * declaring any process; SB_DEPTH (default 2) bounds each
 * buffer: a full buffer stalls the storing process, as on a real CPU.
 * Words and values are bytes: the models' bounds keep them small.
 */
#ifndef SB_DEPTH
#define SB_DEPTH 2
#endif

byte mem[NVAR];               /* shared memory, as every CPU will see it */
byte sb_var[NSB * SB_DEPTH];  /* per buffer, oldest first: which word */
byte sb_val[NSB * SB_DEPTH];  /* ... and the value stored to it */
byte sb_len[NSB];             /* entries in each buffer */

#define SBI(p, i) ((p) * SB_DEPTH + (i))

/* store: append (v, x) to p's buffer; stalls while it is full */
inline st(p, v, x)
{
	d_step {
		sb_len[p] < SB_DEPTH;
		sb_var[SBI(p, sb_len[p])] = v;
		sb_val[SBI(p, sb_len[p])] = x;
		sb_len[p]++
	}
}

/* inside a d_step whose first statement is sb_room(p): the same as st */
#define sb_room(p) (sb_len[p] < SB_DEPTH)
inline st_in_step(p, v, x)
{
	sb_var[SBI(p, sb_len[p])] = v;
	sb_val[SBI(p, sb_len[p])] = x;
	sb_len[p]++
}

/* load: the newest store of p to word v still in p's buffer, else memory */
inline ld(p, v, out)
{
	d_step {
		out = mem[v];
		if
		:: sb_len[p] > 0 && sb_var[SBI(p, 0)] == v -> out = sb_val[SBI(p, 0)]
		:: else
		fi;
		if
		:: sb_len[p] > 1 && sb_var[SBI(p, 1)] == v -> out = sb_val[SBI(p, 1)]
		:: else
		fi;
#if SB_DEPTH > 2
		if
		:: sb_len[p] > 2 && sb_var[SBI(p, 2)] == v -> out = sb_val[SBI(p, 2)]
		:: else
		fi;
#endif
#if SB_DEPTH > 3
		if
		:: sb_len[p] > 3 && sb_var[SBI(p, 3)] == v -> out = sb_val[SBI(p, 3)]
		:: else
		fi;
#endif
		skip
	}
}

/* full fence: wait until p's buffer has drained */
#define fence(p) (sb_len[p] == 0)

/* the oldest entry of p's buffer reaches memory; entries left are shifted
 * down and the freed place zeroed (one state per buffer content) */
inline sb_drain_one(p)
{
	d_step {
		sb_len[p] > 0;
		mem[sb_var[SBI(p, 0)]] = sb_val[SBI(p, 0)];
#if SB_DEPTH > 1
		sb_var[SBI(p, 0)] = sb_var[SBI(p, 1)];
		sb_val[SBI(p, 0)] = sb_val[SBI(p, 1)];
#endif
#if SB_DEPTH > 2
		sb_var[SBI(p, 1)] = sb_var[SBI(p, 2)];
		sb_val[SBI(p, 1)] = sb_val[SBI(p, 2)];
#endif
#if SB_DEPTH > 3
		sb_var[SBI(p, 2)] = sb_var[SBI(p, 3)];
		sb_val[SBI(p, 2)] = sb_val[SBI(p, 3)];
#endif
		sb_len[p]--;
		sb_var[SBI(p, sb_len[p])] = 0;
		sb_val[SBI(p, sb_len[p])] = 0
	}
}

/* the memory side of each CPU: drains its buffer at any moment. Declared
 * here, before the includer's processes, so that buffer p is process p. */
active [NSB] proctype sb_memory()
{
end:	do
	:: sb_drain_one(_pid)
	od
}
