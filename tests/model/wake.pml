/* wake.pml — Promela model of the subscriber's wake-generation handshake:
 * a subscriber that sleeps never misses a sample (tests/model/run.sh runs it).
 *
 * Mirrors (file:line function, at the main commit named in README.md;
 * run.sh checks that each function is still there, run.sh --refs the lines):
 *   core/subcore.h:57 vdds__subcore_arm: a fresh wake_gen, relaxed store
 *   core/subcore.h:77 vdds__subcore_pending: load the mark of the entry at
 *       our position (vdds__deliver_peek)
 *   core/subcore.h:110 vdds__subcore_take: load that mark, take
 *       (vdds__deliver_pop)
 *   core/ring.h:81 vdds__deliver_push: the entry's fields, then its mark
 *       (release store)
 *   core/pubcore.h:191 vdds__pubcore_publish: a push per lane
 *   core/pubcore.h:237 vdds__lane_pub_wants_wake: load wake_gen (relaxed);
 *       kick if not 0 and not the generation last answered
 *   notify/pub.c:264 vdds_pub_publish: publish, vdds__fence, wants_wake, kick
 *   notify/kick.h:12 vdds__kick: eventfd write
 *   notify/sub_fd.c:77 vdds__sub_drain_fd: epoll_wait on the subscriber's set
 *   notify/sub_fd.c:113 vdds__sub_fd_sync: drain_fd(s, 0), arm, vdds__fence, pending,
 *       kick itself if not empty
 *   notify/sub_fd.c:177 vdds__sub_take_empty: fd mode: synced? else fd_sync, take again;
 *       otherwise drain_fd(s, 0), arm, vdds__fence, take_now
 *   notify/sub_fd.c:218 vdds__sub_took_in_fd_mode: the ring ran empty: fd_sync
 *   notify/sub_fd.c:227 vdds__sub_take_refused: max_held reached: drain_fd(s, 0), starved
 *   notify/sub.c:128 vdds_sub_take
 *   notify/sub.c:182 vdds_sub_release: starved: fd_sync (its release ring
 *       and pub_wait: slotwait.pml)
 *   notify/sub_fd.c:238 vdds__sub_block_on_fd: poll the set (the latch stays)
 *   notify/sub.c:221 wait_slow: prepare, sleep, pending?
 *   notify/sub.c:286 vdds_sub_wait: max_held? pending? (vdds__sub_spin only
 *       loads the mark for a while: more looks, the same handshake) wait_slow
 *   notify/sub_fd.c:147 vdds_sub_fd: first call: fd_sync
 *   notify/sub_fd.c:250 vdds__sub_prepare: pending; fd mode: fd_sync unless
 *       synced; else arm, vdds__fence, pending (waitsets call it too)
 *
 * Memory: x86-TSO through tso.pml (store buffers; the fences are real). The
 * data eventfd sits in the subscriber's epoll set edge-triggered and is never
 * read, so what matters is the set's ready-list entry: `latch`. A kick
 * (eventfd write) sets it; epoll_wait on the set (drain_fd) consumes it,
 * blocking when asked to; poll() on the set (the application's level-
 * triggered wait, block_on_fd) waits for it without consuming it. Both are
 * system calls that take kernel locks: full barriers (tso.pml).
 *
 * Layout 3: the subscriber never reads deliver_prod; it looks at the mark
 * of the entry at its position (position + 1 once the entry is there), one
 * word per entry here (the ring is larger than N: no entry is written
 * twice). The entry's other fields are not modelled: they are stored before
 * the mark and TSO keeps stores in order, so a subscriber that sees the mark
 * sees them.
 *
 * Bounds: one publisher, one subscriber lane (lanes share no word of this
 * protocol), N = 3 samples, ring larger than N (never full), store buffers
 * of 2, max_held 1. The subscriber runs one of three ways, chosen at the
 * start: MODE_WAIT (vdds_sub_take until -EAGAIN, then vdds_sub_wait(-1); a
 * waitset's use of vdds__sub_prepare is the same handshake), MODE_FD_POLL
 * (vdds_sub_fd(), then repeatedly: poll the fd until readable, one
 * vdds_sub_take) and MODE_FD_WAIT (vdds_sub_fd(), then repeatedly:
 * vdds_sub_wait(s, -1), then one vdds_sub_take). In every mode it releases
 * what it holds whenever it likes, and before taking again once take or
 * wait said -ENOBUFS (max_held).
 *
 * Checked: the subscriber takes all N samples in every run: in every end
 * state (assert in `watch`, and Spin's invalid-end-state check: a sleeping
 * subscriber is not a valid end) and on every infinite run (ltl `live`, no
 * fairness assumed: there is no cycle that avoids it).
 *
 * Mutants (spin -D...; each MUST fail, run.sh checks it):
 *   NO_SUB_FENCE     no vdds__fence() after the subscriber's arm (fd_sync,
 *                    vdds__sub_prepare, take_empty): its wake_gen store is
 *                    still buffered when it finds the ring empty and sleeps,
 *                    the publisher reads the old generation: lost wakeup.
 *   NO_PUB_FENCE     no vdds__fence() in vdds_pub_publish between the ring
 *                    push and the wake_gen loads: lost wakeup.
 *   NO_SYNC_KICK     fd_sync does not kick itself when its second look finds
 *                    a sample: the level-triggered fd stays unreadable with
 *                    a sample waiting (MODE_FD_POLL).
 *   NO_STARVED_SYNC  vdds_sub_release does not fd_sync after take_refused
 *                    cleared the fd: it stays unreadable with a sample
 *                    waiting and room to take it.
 */
#define N 3
#define MAX_HELD 1 /* vdds_sub_opts.max_held */

#define NVAR (N + 2)
#define WGEN 0         /* lane wake_gen: the subscriber writes it */
#define MARK(i) (1 + (i)) /* deliver entry i's mark: the publisher writes it */

#define NSB 2
#define PUB 0
#define SUB 1

#include "tso.pml"

#define MODE_WAIT 1    /* no fd: take, then vdds_sub_wait */
#define MODE_FD_POLL 2 /* vdds_sub_fd(): poll it, take */
#define MODE_FD_WAIT 3 /* vdds_sub_fd(), but vdds_sub_wait, take */

byte latch;  /* the data eventfd's entry on the subscriber's epoll ready list */
byte taken;  /* samples the subscriber has taken */
byte mode;

/* vdds__kick(): a locked kernel path (full barrier), then the event is ready */
#define kick(p) d_step { fence(p); latch = 1 }
/* drain_fd(s, 0, NULL): epoll_wait with timeout 0 consumes a ready event */
#define drain_fd_nowait(p) d_step { fence(p); latch = 0 }

active proctype publisher()
{
	byte i, gen, last_wake_gen;

	for (i : 1 .. N) {
		/* vdds__pubcore_publish -> vdds__deliver_push: the fields, then
		 * the mark (release) */
		st(PUB, MARK(i - 1), i);
#ifndef NO_PUB_FENCE
		/* vdds_pub_publish: vdds__fence() */
		fence(PUB);
#endif
		/* vdds__lane_pub_wants_wake */
		ld(PUB, WGEN, gen);
		if
		:: gen != 0 && gen != last_wake_gen ->
			last_wake_gen = gen;
			kick(PUB)
		:: else
		fi
	}
}

#ifdef NO_SUB_FENCE
#define sub_fence skip
#else
#define sub_fence fence(SUB)
#endif

/* vdds__subcore_arm: a fresh generation, relaxed store */
inline arm()
{
	gen++;
	assert(gen < 255); /* the bounds keep generations in a byte */
	st(SUB, WGEN, gen)
}

/* fd_sync: clear the latch, arm, fence, look again; kick itself if not empty */
inline fd_sync()
{
	drain_fd_nowait(SUB);
	arm();
	sub_fence;
	ld(SUB, MARK(cons), mark);
	synced = (mark != cons + 1);
#ifndef NO_SYNC_KICK
	if
	:: !synced -> kick(SUB)
	:: else
	fi
#endif
}

#define T_OK 0
#define T_EAGAIN 1
#define T_ENOBUFS 2

/* vdds_sub_take: one sample, -EAGAIN or -ENOBUFS into r */
inline take()
{
	if
	:: held >= MAX_HELD ->
		/* take_refused */
		if
		:: mode != MODE_WAIT && !starved -> drain_fd_nowait(SUB)
		:: else
		fi;
		starved = 1;
		synced = 0;
		r = T_ENOBUFS
	:: else ->
		do
		:: /* take_now -> vdds__subcore_take -> vdds__ring_pop */
			ld(SUB, MARK(cons), mark);
			if
			:: mark == cons + 1 ->
				cons++; taken++; held++;
				r = T_OK;
				if
				:: mode != MODE_WAIT ->
					/* took_in_fd_mode */
					synced = 0;
					ld(SUB, MARK(cons), mark);
					if
					:: mark != cons + 1 -> fd_sync()
					:: else
					fi
				:: else
				fi;
				break
			:: else
			fi;
			/* take_empty */
			if
			:: mode == MODE_WAIT ->
				/* not fd mode, no waitset: clear, arm, fence, take_now */
				drain_fd_nowait(SUB);
				arm();
				sub_fence;
				ld(SUB, MARK(cons), mark);
				if
				:: mark == cons + 1 -> cons++; taken++; held++; r = T_OK
				:: else -> r = T_EAGAIN
				fi;
				break
			:: else ->
				/* fd mode */
				if
				:: synced -> synced = 0; r = T_EAGAIN; break
				:: else
				fi;
				fd_sync();
				if
				:: synced -> r = T_EAGAIN; break
				:: else /* vdds_sub_take again */
				fi
			fi
		od
	fi
}

/* vdds_sub_wait(s, -1): 0 or -ENOBUFS into r */
inline wait()
{
	if
	:: held >= MAX_HELD -> r = T_ENOBUFS
	:: else ->
		r = T_OK;
		ld(SUB, MARK(cons), mark); /* a sample is already waiting? */
		do
		:: mark == cons + 1 -> break
		:: else ->
			/* wait_slow: vdds__sub_prepare */
			if
			:: mode == MODE_WAIT ->
				arm();
				sub_fence;
				ld(SUB, MARK(cons), mark);
				if
				:: mark == cons + 1 -> break
				:: else
				fi;
				/* drain_fd(s, -1): epoll_wait sleeps until the event, consumes it */
				d_step { fence(SUB) && latch > 0 -> latch = 0 }
			:: else ->
				/* prepare's fd branch */
				if
				:: !synced -> fd_sync()
				:: else
				fi;
				if
				:: !synced -> break
				:: else
				fi;
				/* block_on_fd: poll, the latch stays */
				latch > 0;
				ld(SUB, MARK(cons), mark);
				if
				:: mark != cons + 1 -> synced = 0 /* stale: prepare syncs again */
				:: else
				fi
			fi;
			ld(SUB, MARK(cons), mark)
		od
	fi
}

/* vdds_sub_release (its release ring and pub_wait: slotwait.pml) */
inline release()
{
	held--;
	if
	:: starved ->
		/* room to take again: the fd is readable if something waits */
		starved = 0;
#ifndef NO_STARVED_SYNC
		if
		:: mode != MODE_WAIT -> fd_sync()
		:: else
		fi
#endif
	:: else
	fi
}

active proctype subscriber()
{
	byte cons, mark, gen, held, r;
	bool synced, starved, refused;

	if
	:: mode = MODE_WAIT
	:: mode = MODE_FD_POLL
	:: mode = MODE_FD_WAIT
	fi;
	if
	:: mode != MODE_WAIT -> fd_sync() /* vdds_sub_fd() */
	:: else
	fi;

	/* The application: it releases what it holds whenever it likes, and
	 * does so before calling take again once told -ENOBUFS. */
	do
	:: taken == N -> break
	:: held > 0 -> release(); refused = 0
	:: taken < N && !refused && mode == MODE_WAIT ->
		/* take until -EAGAIN, then vdds_sub_wait(s, -1) */
		take();
		if
		:: r == T_EAGAIN -> wait()
		:: else
		fi;
		refused = (r == T_ENOBUFS)
	:: taken < N && !refused && mode == MODE_FD_POLL && latch > 0 ->
		/* its poll or level-triggered epoll said readable: one take */
		take();
		refused = (r == T_ENOBUFS)
	:: taken < N && !refused && mode == MODE_FD_WAIT ->
		/* vdds_sub_wait(s, -1), then one take */
		wait();
		if
		:: r == T_OK -> take()
		:: else
		fi;
		refused = (r == T_ENOBUFS)
	od
}

/* When nothing can move any more, the subscriber must have taken everything:
 * otherwise it sleeps with a sample in its ring (a lost wakeup). */
active proctype watch()
{
	timeout -> assert(taken == N)
}

ltl live { <> (taken == N) }
