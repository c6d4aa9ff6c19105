/* abi_layout.c — the public structs of vdds.h, frozen: the size and offset of
 * every field, as a program compiled against this header lays them out. A
 * binary built today keeps passing these bytes to every later libvdds.so.0,
 * so a change here must be deliberate (a test fails, not a consumer).
 * Compiled, not run, as C11 and as C++17 (tests/CMakeLists.txt); LP64 only.
 *
 * How the structs grow (issue #20 point 6):
 *  - vdds_pub_opts, vdds_sub_opts, vdds_pub_stats and vdds_sub_stats end in
 *    a reserve (uint64_t vdds__reserved[8]) that callers leave zero, as
 *    they already zero-initialise every option. A new field takes bytes from
 *    the front of the reserve: the size and every offset below stay, and
 *    a zero in the new field means what the old library did, which is the
 *    rule already ("every zero field takes the default").
 *  - The library checks that the reserve it does not know is zero, and
 *    refuses nonzero bytes there with -EINVAL and a detail ("vdds_pub_opts:
 *    unknown field set at offset 48: a newer header?"): a newer program on an
 *    older library fails at open, not silently. Stats: the library zeroes
 *    the reserve.
 *  - Not a leading size field: `= {0}`, NULL options and the wrappers'
 *    copies would all need an init macro, and a zero size is ambiguous.
 *  - When a reserve runs out, the function keeps its old body under its old
 *    node of core/vdds.map (.symver vdds_pub_open@VDDS_0.1) and the header's
 *    struct grows under a new default node (@@VDDS_0.N).
 * tests/abi_grow.c builds a consumer against today's header and runs it on
 * a library whose header has one more field taken from each reserve, and
 * the other way round. */
#include <stddef.h>

#include "vdds.h"

#if defined(__SIZEOF_POINTER__) && __SIZEOF_POINTER__ == 8

#define VDDS__FROZEN_SIZE(S, n)                                                                    \
	VDDS__STATIC_ASSERT(sizeof(struct S) == (n), "struct " #S " changed size")
#define VDDS__FROZEN(S, f, off)                                                                    \
	VDDS__STATIC_ASSERT(offsetof(struct S, f) == (off), "struct " #S ": " #f " moved")

VDDS__FROZEN_SIZE(vdds_pub_opts, 112);
VDDS__FROZEN(vdds_pub_opts, slot_size, 0);
VDDS__FROZEN(vdds_pub_opts, slot_count, 8);
VDDS__FROZEN(vdds_pub_opts, max_subscribers, 12);
VDDS__FROZEN(vdds_pub_opts, type_name, 16);
VDDS__FROZEN(vdds_pub_opts, type_size, 24);
VDDS__FROZEN(vdds_pub_opts, no_service_thread, 28);
VDDS__FROZEN(vdds_pub_opts, group_access, 29);
VDDS__FROZEN(vdds_pub_opts, group, 32);
VDDS__FROZEN(vdds_pub_opts, overflow, 36);
VDDS__FROZEN(vdds_pub_opts, history, 40);
VDDS__FROZEN(vdds_pub_opts, huge_pages, 44);
VDDS__FROZEN(vdds_pub_opts, vdds__reserved, 48);
VDDS__FROZEN_SIZE(vdds_pub_stats, 224);
VDDS__FROZEN(vdds_pub_stats, slot_count, 0);
VDDS__FROZEN(vdds_pub_stats, free_slots, 4);
VDDS__FROZEN(vdds_pub_stats, loaned_slots, 8);
VDDS__FROZEN(vdds_pub_stats, subscribers, 12);
VDDS__FROZEN(vdds_pub_stats, published, 16);
VDDS__FROZEN(vdds_pub_stats, wakeups, 24);
VDDS__FROZEN(vdds_pub_stats, disconnects, 32);
VDDS__FROZEN(vdds_pub_stats, kicked, 40);
VDDS__FROZEN(vdds_pub_stats, delivered, 48);
VDDS__FROZEN(vdds_pub_stats, dropped, 56);
VDDS__FROZEN(vdds_pub_stats, blocked, 64);
VDDS__FROZEN(vdds_pub_stats, blocked_ns, 72);
VDDS__FROZEN(vdds_pub_stats, largest_held, 80);
VDDS__FROZEN(vdds_pub_stats, largest_lane, 84);
VDDS__FROZEN(vdds_pub_stats, huge_pages, 88);
VDDS__FROZEN(vdds_pub_stats, huge_pages_err, 92);
VDDS__FROZEN(vdds_pub_stats, huge_pages_note, 96);
VDDS__FROZEN(vdds_pub_stats, vdds__reserved, 160);
VDDS__FROZEN_SIZE(vdds_sub_opts, 96);
VDDS__FROZEN(vdds_sub_opts, type_name, 0);
VDDS__FROZEN(vdds_sub_opts, type_size, 8);
VDDS__FROZEN(vdds_sub_opts, busy_poll, 12);
VDDS__FROZEN(vdds_sub_opts, reconnect, 13);
VDDS__FROZEN(vdds_sub_opts, publisher_uid, 16);
VDDS__FROZEN(vdds_sub_opts, max_held, 20);
VDDS__FROZEN(vdds_sub_opts, no_history, 24);
VDDS__FROZEN(vdds_sub_opts, spin_ns, 28);
VDDS__FROZEN(vdds_sub_opts, vdds__reserved, 32);
VDDS__FROZEN_SIZE(vdds_sub_stats, 88);
VDDS__FROZEN(vdds_sub_stats, taken, 0);
VDDS__FROZEN(vdds_sub_stats, lost, 8);
VDDS__FROZEN(vdds_sub_stats, held, 16);
VDDS__FROZEN(vdds_sub_stats, queued, 20);
VDDS__FROZEN(vdds_sub_stats, vdds__reserved, 24);
VDDS__FROZEN_SIZE(vdds_sample, 40);
VDDS__FROZEN(vdds_sample, data, 0);
VDDS__FROZEN(vdds_sample, len, 8);
VDDS__FROZEN(vdds_sample, seq, 16);
VDDS__FROZEN(vdds_sample, timestamp_ns, 24);
VDDS__FROZEN(vdds_sample, epoch, 32);
VDDS__FROZEN(vdds_sample, slot, 36);
VDDS__FROZEN_SIZE(vdds_event, 24);
VDDS__FROZEN(vdds_event, kind, 0);
VDDS__FROZEN(vdds_event, fd, 4);
VDDS__FROZEN(vdds_event, events, 8);
VDDS__FROZEN(vdds_event, user, 16);

/* the introspection answer (issue #20 point 1): grown from the front of
 * vdds__reserved, which the library zeroes (tests/test_introspect.c) */
VDDS__FROZEN_SIZE(vdds_topic_sub, 64);
VDDS__FROZEN(vdds_topic_sub, pid, 0);
VDDS__FROZEN(vdds_topic_sub, uid, 4);
VDDS__FROZEN(vdds_topic_sub, lane, 8);
VDDS__FROZEN(vdds_topic_sub, held, 12);
VDDS__FROZEN(vdds_topic_sub, queued, 16);
VDDS__FROZEN(vdds_topic_sub, lost, 24);
VDDS__FROZEN(vdds_topic_sub, vdds__reserved, 32);
VDDS__FROZEN_SIZE(vdds_topic_info, 352 + 64 * VDDS_MAX_SUBSCRIBERS);
VDDS__FROZEN(vdds_topic_info, pid, 0);
VDDS__FROZEN(vdds_topic_info, uid, 4);
VDDS__FROZEN(vdds_topic_info, start_ns, 8);
VDDS__FROZEN(vdds_topic_info, slot_size, 16);
VDDS__FROZEN(vdds_topic_info, slot_count, 24);
VDDS__FROZEN(vdds_topic_info, max_subscribers, 28);
VDDS__FROZEN(vdds_topic_info, type_size, 32);
VDDS__FROZEN(vdds_topic_info, overflow, 36);
VDDS__FROZEN(vdds_topic_info, history, 40);
VDDS__FROZEN(vdds_topic_info, n_subs, 44);
VDDS__FROZEN(vdds_topic_info, type_name, 48);
VDDS__FROZEN(vdds_topic_info, free_slots, 112);
VDDS__FROZEN(vdds_topic_info, loaned_slots, 116);
VDDS__FROZEN(vdds_topic_info, subscribers, 120);
VDDS__FROZEN(vdds_topic_info, published, 128);
VDDS__FROZEN(vdds_topic_info, wakeups, 136);
VDDS__FROZEN(vdds_topic_info, disconnects, 144);
VDDS__FROZEN(vdds_topic_info, kicked, 152);
VDDS__FROZEN(vdds_topic_info, note, 160);
VDDS__FROZEN(vdds_topic_info, vdds__reserved, 288);
VDDS__FROZEN(vdds_topic_info, subs, 352);

#endif
