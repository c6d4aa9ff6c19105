/* atomics.h — the only place the library spells memory ordering. Every call
 * site says what the barrier orders against; these keep the spelling uniform. */
#ifndef VDDS_ATOMICS_H
#define VDDS_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

/* Shared-memory words are plain fixed-width integers in the frozen layout;
 * both sides access them only through these helpers. */
#define vdds__load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define vdds__load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define vdds__store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define vdds__store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define vdds__exchange(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)
/* Compare-and-swap: *expected is updated to the current value on failure. A
 * locked instruction on x86: also a full barrier. */
#define vdds__cas(p, expected, v)                                                                  \
	atomic_compare_exchange_strong_explicit((p), (expected), (v), memory_order_acq_rel,        \
						memory_order_acquire)

/* Full fence: orders an earlier store before a later load (store-load), the
 * one ordering acquire/release cannot give. Used by the sleep/wake handshake. */
static inline void vdds__fence(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

#endif
