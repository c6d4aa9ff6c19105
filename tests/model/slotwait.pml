/* slotwait.pml — Promela model of the publisher's wait for a returned slot
 * (BLOCK policy): it never sleeps while a returned slot would let it go on.
 *
 * Mirrors (file:line function, at the main commit named in README.md;
 * run.sh checks that each function is still there, run.sh --refs the lines):
 *   notify/pub.c:246 vdds_pub_loan: vdds__pubcore_loan, else loan_overflow
 *   notify/pub.c:233 loan_overflow: BLOCK: loan_wait
 *   notify/pub.c:184 loan_wait: vdds__pubcore_arm_wait, vdds__fence,
 *       vdds__pubcore_loan; else wait_for_return, vdds__pubcore_loan again,
 *       loop; vdds__pubcore_disarm_wait
 *   notify/pub.c:163 wait_for_return: futex-wait while ret_word is still the
 *       `seen` that loan_wait read at the top of the round
 *   core/pubcore.c:420 vdds__pubcore_arm_wait: T = oldest_held; among the
 *       lanes that have T queued at the head of their queue (the publisher's
 *       shadow of the entry at cons, cons read once and checked) and hold
 *       every live slot by the publisher's count (may_ask_alone: held ==
 *       live), the first with the most queued gets W = seq(T); if there is
 *       none, every lane holding anything; the others 0 (relaxed stores)
 *   core/pubcore.c:389 oldest_held: T, and live (the published slots some
 *       lane holds)
 *   core/pubcore.c:464 vdds__pubcore_disarm_wait
 *   core/pubcore.c:261 vdds__pubcore_reclaim: reclaim_lane on every lane
 *   core/pubcore.c:229 reclaim_lane: vdds__release_pop until an entry's
 *       mark says not yet, drop_hold
 *   core/pubcore.c:131 drop_hold: free once nobody holds it
 *   core/pubcore.h:146 vdds__pubcore_loan: reclaim if none is free
 *   core/pubcore.h:191 vdds__pubcore_publish: a push per lane
 *   core/ring.h:81 vdds__deliver_push: slot and seq, then the mark
 *       (release store)
 *   core/ring.h:124 vdds__deliver_pop: load the mark at our position, the
 *       fields, store cons (release)
 *   core/ring.h:225 vdds__release_push: the entry (mark and slot, one
 *       release store)
 *   core/ring.h:238 vdds__release_pop: load the entry; its mark says whether
 *       it is there
 *   core/subcore.h:110 vdds__subcore_take
 *   core/subcore.h:160 vdds__subcore_release: push on the release ring,
 *       vdds__fence, W = load pub_wait; W == 0 or seq < W: no wake; else
 *       exchange it with 0, wake if it was not 0
 *   notify/sub.c:182 vdds_sub_release: send_wake, a WAKE message on the
 *       socket; the control side reads it and bumps ret_word
 *       (vdds__pub_wake_loan: bump, fence, futex wake if the loan sleeps)
 *
 * Three versions, one file:
 *   (default)   main's: the watermark above, and when the look after the
 *               fence found returns but no free slot, arm again before
 *               sleeping (the choice was made on holders that have changed;
 *               loan_wait's `returned` check). Checked clean.
 *   NO_REARM    the watermark without that check, as 4bde34f had it: it
 *               loses a wakeup (MUST fail): arm_wait asks lane A, A takes
 *               and returns everything before it sees W, the look after the
 *               fence reclaims A's returns but frees nothing (lane B still
 *               holds both slots), the publisher sleeps, and B, not asked,
 *               returns both slots without a kick.
 *   PLAIN       the protocol before 4bde34f: pub_wait = 1 on every lane;
 *               every release that finds it set wakes the publisher. Checked
 *               clean.
 *
 * Honest subscribers? The watermark was designed on the assumption that the
 * asked subscriber goes on releasing while it has samples queued. It does
 * not need that: the lane asked alone holds every live slot, so no slot can
 * come back without it; and when no lane may be asked alone every lane
 * holding anything is asked. For an honest lane, T queued at the head says
 * so (delivery is in order: every later sample queues behind T); a lane
 * that lies about its deliver_cons ("takes" without storing it) and returns
 * samples it never took would break that, so the publisher also counts:
 * the lane must hold as many slots as are live (held == live, from its own
 * books). So the default and PLAIN are both checked with STALL: any
 * subscriber may stop for good between two calls (a debugger, a stuck disk)
 * holding what it holds, and the publisher must still never sleep while a
 * slot came back; and the default with HOSTILE: lane 0 parks its
 * deliver_cons whenever it likes and never wakes anybody, and the publisher
 * may then sleep for good only on a slot lane 0 held when it was asked
 * (which is what lane 0 could do by holding it, as BLOCK lets any lane),
 * never on one that only others gave back. (reclaim_lane also cuts off a
 * lane that returns a sample still queued; not modelled: the count alone
 * suffices, and the check is on top.) Not modelled: lanes attaching or cut off during the wait (the
 * control side wakes the publisher for those), history (a slot it keeps is
 * not free; oldest_held skips slots only it holds), a subscriber dying
 * inside vdds_sub_release, timeouts.
 *
 * Memory: x86-TSO through tso.pml, for the marks, deliver_cons and
 * pub_wait. Layout 3: nobody reads a producer index; each ring entry is
 * there once its mark says its position (a release entry is one word, mark
 * and slot). A deliver entry's slot and seq are written straight to memory:
 * they are stored before its mark, TSO keeps the stores in order, and the
 * subscriber reads them only after seeing the mark, so buffering them would
 * add states but no behaviour. The publisher's once-a-lap look at
 * deliver_cons for room (vdds__lane_pub_has_room) changes nothing for
 * honest subscribers and is left out. The wake (WAKE message, control side,
 * ret_word bump, futex) is a flag: a kick sets it (a system call: full
 * barrier; the message's hops only delay it), the loan sleeps until it is
 * set, and clearing it stands for the loan reading `seen` anew at the top of
 * its next round (a kick in between is absorbed, as in C: it moved ret_word
 * before that read, and the round's own look after the fence finds the
 * return). The data path's own wakeup is model wake.pml's: here a
 * subscriber simply waits until its deliver ring is non-empty. PLAIN leaves
 * out the subscriber's store of its deliver cons: nobody reads it there.
 *
 * Bounds: 2 slots, 2 subscriber lanes, rings of 2, N = 3 samples (the third
 * loan must wait), store buffers of 2. Subscribers take in order and release
 * their held samples in any order.
 *
 * Checked (exhaustive; `watch` asserts when nothing can move any more):
 *   - no slot owned by two parties: a slot loaned to the application is held
 *     by no subscriber and in no release ring; a subscriber takes only a
 *     published slot it does not hold;
 *   - no slot lost: at the end every slot is free, or published with its
 *     holder mask equal to the lanes that still hold it or returned it
 *     unreclaimed; the free count matches;
 *   - no lost wakeup: the publisher is never asleep for good while some slot
 *     has been given back by every holder (HOSTILE: but for a slot lane 0
 *     held when it was last asked); without STALL or HOSTILE, every run ends
 *     with all N published, taken and released by both subscribers;
 *   - without STALL or HOSTILE, ltl `live` (acceptance cycles, no fairness
 *     assumed): every run publishes all N.
 *
 * Variants (spin -D...; run.sh checks each outcome):
 *   STALL            subscribers may stop for good: passes (default, PLAIN).
 *   HOSTILE          lane 0 "takes" with or without storing its deliver_cons
 *                    and never looks at pub_wait (no WAKE, ever): passes
 *                    (default) with the weaker wakeup property above.
 *   NO_HELD_CHECK    arm_wait without held == live (main before issue #26):
 *                    MUST fail with HOSTILE: lane 0 parks its cons on T,
 *                    returns the later slot it "took" before the publisher
 *                    waits and is asked alone; lane 1 returns that slot
 *                    unasked and the publisher sleeps with it free.
 *   NO_PUB_FENCE     no vdds__fence() in loan_wait: MUST fail (default, PLAIN).
 *   NO_SUB_FENCE     no vdds__fence() in vdds__subcore_release: MUST fail
 *                    (default, PLAIN).
 *   PLAIN_STORE      the subscriber's exchange replaced by "load, store 0,
 *                    kick if the load was not 0": passes (PLAIN). Harmless:
 *                    a second or needless wake costs one loop, and the kick
 *                    comes after the store (a locked kernel path drains it),
 *                    so the publisher always looks again after it.
 *   WM_GT            kick only for seq > W: passes (default) at these bounds:
 *                    the release of T itself no longer kicks, but a release
 *                    of a newer sample by an asked lane still comes. With
 *                    W = seq(T), T the oldest held slot, every sample a lane
 *                    holds has seq >= W: the comparison filters nothing,
 *                    which lanes are asked is the whole filter.
 */
#define S 2 /* slots */
#define L 2 /* subscriber lanes */
#define R 2 /* ring size: a power of two >= S */
#define N 3 /* samples published */

/* shared words: the lane headers and rings */
#define DCONS(l) (l)             /* deliver_cons: subscriber */
#define PW(l) (2 + (l))          /* pub_wait: the watermark W (PLAIN: 0/1); both */
#define DMARK(l, i) (4 + (l) * R + (i))  /* deliver[ring].mark: publisher */
#define DSLOT(l, i) (8 + (l) * R + (i))  /* deliver[ring].slot: publisher */
#define DSEQ(l, i) (12 + (l) * R + (i))  /* deliver[ring].seq: publisher */
#define RENT(l, i) (16 + (l) * R + (i))  /* release[ring]: mark * 8 + slot; subscriber */
#define NVAR 20

#define NSB 3
#define PUB 0
#define SUBP(l) (1 + (l))

#include "tso.pml"

#define FREE 0
#define LOANED 1
#define PUBLISHED 2
#define NONE 255

/* publisher-private (struct vdds__pubcore); global only so `watch` can read */
byte state[S];     /* slot state */
byte hold[S];   /* holder mask: bit l = lane l holds the slot */
byte lheld[L];  /* slots each lane holds */
#ifndef PLAIN
byte sseq[S];   /* seq of each published slot (pc->desc, private) */
#endif
byte nfree = S;
bool asleep;    /* in wait_for_return */
byte published;

/* ghosts: the truth the publisher's bookkeeping must agree with */
byte g_hold[S]; /* lanes holding the slot (queued or taken, not given back) */
byte g_ret[S];  /* given back on a release ring, not reclaimed yet */
byte finished;      /* subscribers that took all N and released everything */
#ifdef HOSTILE
byte hh;        /* the slots hostile lane 0 held, by our books, when last asked */
#endif

bool efd;       /* ret_word has moved past the loan's `seen` */

#define kick_ret(p) d_step { fence(p); efd = 1 }

/* vdds__pubcore_reclaim: reclaim_lane on each lane (vdds__release_pop until
 * an entry is not yet there, drop_hold). One atomic step per lane: the
 * entries a subscriber's FIFO store buffer lets through are always a prefix
 * that only grows, so reading them one by one up to the first missing one
 * sees what one look at that moment would. */
inline reclaim()
{
	l = 0;
	do
	:: l < L ->
		atomic {
			do
			:: mem[RENT(l, rcons[l] % R)] / 8 != rcons[l] + 1 -> break
			:: else ->
				id = mem[RENT(l, rcons[l] % R)] % 8;
				/* an honest subscriber returns only what it holds */
				assert(id < S && (hold[id] & (1 << l)));
				/* drop_hold */
				hold[id] = hold[id] & ~(1 << l);
				lheld[l]--;
				g_ret[id]--;
				if
				:: hold[id] == 0 && state[id] == PUBLISHED ->
					state[id] = FREE;
					nfree++
				:: else
				fi;
				rcons[l]++;
				found = 1
			od;
			id = 0;
			l++
		}
	:: else -> l = 0; break
	od
}

/* set_pub_wait: relaxed stores, into the store buffer */
inline set_pub_wait(v)
{
	atomic {
		l = 0;
		do
		:: l < L -> st(PUB, PW(l), v); l++
		:: else -> l = 0; break
		od
	}
}

#ifndef PLAIN
/* vdds__pubcore_arm_wait: ask a lane that has the oldest held slot T still
 * queued, at the head of its queue (the one with the most queued), to wake
 * us, with W = seq(T); if no lane has T queued, every lane holding anything. */
inline arm_wait()
{
	d_step {
		/* oldest_held */
		t = NONE;
		s = 0;
		do
		:: s < S ->
			if
			:: state[s] == PUBLISHED && hold[s] != 0 && (t == NONE || sseq[s] < sseq[t]) -> t = s
			:: else
			fi;
			s++
		:: else -> s = 0; break
		od;
		assert(t != NONE); /* no slot is free, none loaned: some are held */
		/* live: the published slots some lane holds, by our books */
		live = 0;
		s = 0;
		do
		:: s < S ->
			if
			:: state[s] == PUBLISHED && hold[s] != 0 -> live++
			:: else
			fi;
			s++
		:: else -> s = 0; break
		od
	}
	/* the lanes' queues, read one by one (in C each deliver_cons once,
	 * checked by cons_sane: it is never behind what was seen nor past what
	 * was delivered, which this model's subscribers never break) */
	pick = NONE;
	l = 0;
	do
	:: l < L ->
		d_step {
			q = dprod[l] - mem[DCONS(l)]; /* the publisher never stores cons */
			if
			:: (hold[t] & (1 << l)) && q > 0 && q <= R &&
			   shadow[l * R + mem[DCONS(l)] % R] == t &&
#ifndef NO_HELD_CHECK
			   lheld[l] == live &&
#endif
			   (pick == NONE || q > pickq) ->
				pick = l;
				pickq = q
			:: else
			fi;
			q = 0;
			l++
		}
	:: else -> l = 0; break
	od;
	/* W on the chosen lane, or on every lane holding anything; 0 elsewhere
	 * (relaxed stores, into the buffer) */
	atomic {
		l = 0;
		do
		:: l < L ->
			if
			:: (pick != NONE && l == pick) || (pick == NONE && lheld[l] > 0) ->
				st(PUB, PW(l), sseq[t])
#ifdef HOSTILE
				if
				:: l == 0 -> hh = 0; s = 0;
					do
					:: s < S -> hh = hh | (hold[s] & 1) << s; s++
					:: else -> s = 0; break
					od
				:: else
				fi
#endif
			:: else -> st(PUB, PW(l), 0)
#ifdef HOSTILE
				if
				:: l == 0 -> hh = 0
				:: else
				fi
#endif
			fi;
			l++
		:: else -> l = 0; break
		od;
		t = 0;
		pick = 0;
		pickq = 0;
		live = 0
	}
}
#endif

/* notify/pub.c loan_wait */
inline loan_wait()
{
	do
	::
#ifndef PLAIN
		arm_wait();
#else
		set_pub_wait(1);
#endif
#ifndef NO_PUB_FENCE
		fence(PUB);
#endif
		found = 0;
		reclaim();
		if
		:: nfree > 0 -> break
		:: else
		fi;
#if !defined(PLAIN) && !defined(NO_REARM)
		if
		:: found -> found = 0; goto next /* things moved since the choice: choose again */
		:: else
		fi;
#endif
		found = 0;
		/* wait_for_return: poll (sleeps), then read */
		asleep = 1;
end_sleep:	d_step { fence(PUB) && efd -> asleep = 0 };
		efd = 0;
		reclaim();
		found = 0;
		if
		:: nfree > 0 -> break
		:: else
		fi;
next:		skip
	od;
	set_pub_wait(0)
}

active proctype publisher()
{
	byte m, id, l, s;
	bool found;
	byte dprod[L], rcons[L], seq;
#ifndef PLAIN
	byte shadow[L * R]; /* our copy of each deliver entry's slot */
#endif
#ifndef PLAIN
	byte t, pick, pickq, q, live;
#endif

	for (m : 1 .. N) {
		/* vdds_pub_loan -> vdds__pubcore_loan */
		if
		:: nfree == 0 -> reclaim(); found = 0
		:: else
		fi;
		if
		:: nfree == 0 -> loan_wait()
		:: else
		fi;
		atomic {
			id = 0;
			do
			:: state[id] == FREE -> break
			:: else -> id++
			od;
			/* no slot owned by two parties */
			assert(g_hold[id] == 0 && g_ret[id] == 0);
			state[id] = LOANED;
			nfree--;
			/* (the application fills the slot) */
			/* vdds__pubcore_publish */
			seq++;
#ifndef PLAIN
			sseq[id] = seq;
#endif
			state[id] = PUBLISHED
		}
		l = 0;
		do
		:: l < L ->
			atomic {
				/* vdds__deliver_push: slot and seq, then the mark (release) */
				g_hold[id]++; /* ghost: before the subscriber can see it */
				mem[DSLOT(l, dprod[l] % R)] = id;
#ifndef PLAIN
				shadow[l * R + dprod[l] % R] = id; /* lp->shadow */
				mem[DSEQ(l, dprod[l] % R)] = seq;
#endif
				dprod[l]++;
				st(PUB, DMARK(l, (dprod[l] - 1) % R), dprod[l]);
				hold[id] = hold[id] | (1 << l);
				lheld[l]++;
				l++
			}
		:: else -> l = 0; break
		od;
		published++;
		id = 0
	}
}

proctype subscriber(byte l)
{
	byte dcons, rprod, id, ntaken, w, old;
	byte held; /* bitmask of the slots taken and not released */
#ifndef PLAIN
	byte hseq[S];
#endif

end_idle:
	do
	:: atomic {
		ntaken < N && mem[DMARK(l, dcons % R)] == dcons + 1 ->
		/* vdds__subcore_take -> vdds__deliver_pop (the subscriber never
		 * stores a mark: memory is what its loads see) */
		id = mem[DSLOT(l, dcons % R)];
#ifndef PLAIN
		hseq[id] = mem[DSEQ(l, dcons % R)];
#endif
		assert(id < S && state[id] == PUBLISHED && !(held & (1 << id)));
		dcons++;
#ifndef PLAIN
#ifdef HOSTILE
		if
		:: l == 0 -> skip /* park deliver_cons: "take" privately */
		:: true -> st(SUBP(l), DCONS(l), dcons)
		fi;
#else
		st(SUBP(l), DCONS(l), dcons);
#endif
#endif
		held = held | (1 << id);
		ntaken++;
		id = 0
	   }
	:: atomic {
		held != 0 ->
		if
		:: held & 1 -> id = 0
		:: held & 2 -> id = 1
		fi;
		/* vdds__subcore_release: forget, push, fence, look at pub_wait */
		held = held & ~(1 << id);
		g_hold[id]--; /* ghost: before the publisher can see it */
		g_ret[id]++;
		rprod++;
		st(SUBP(l), RENT(l, (rprod - 1) % R), rprod * 8 + id)
	   }
#ifdef HOSTILE
		/* it may return without looking at pub_wait: no WAKE, ever */
		if
		:: l == 0 -> goto silent
		:: else
		fi;
#endif
#ifndef NO_SUB_FENCE
		fence(SUBP(l));
#endif
		ld(SUBP(l), PW(l), w);
#ifndef PLAIN
#ifdef WM_GT
		if
		:: w != 0 && hseq[id] > w ->
#else
		if
		:: w != 0 && hseq[id] >= w ->
#endif
#else
		if
		:: w != 0 ->
#endif
#ifdef PLAIN_STORE
			st(SUBP(l), PW(l), 0);
			old = w;
#else
			d_step { fence(SUBP(l)); old = mem[PW(l)]; mem[PW(l)] = 0 };
#endif
			if
			:: old != 0 -> kick_ret(SUBP(l)) /* vdds_sub_release */
			:: else
			fi
		:: else
		fi;
#ifdef HOSTILE
silent:
#endif
#ifndef PLAIN
		hseq[id] = 0;
#endif
		id = 0;
		w = 0;
		old = 0
#ifdef STALL
	:: true ->
		/* this subscriber stops here for good, holding what it holds */
end_stall:	false
#endif
	:: ntaken == N && held == 0 -> break
	od;
	finished++
}
init
{
	atomic {
		run subscriber(0);
		run subscriber(1)
	}
}

/* When nothing can move any more (the run is over, or stuck). */
active proctype watch()
{
	byte s, holders, n;

	timeout ->
	/* no slot lost, no slot owned twice: bookkeeping = truth */
	for (s : 0 .. S - 1) {
		holders = (hold[s] & 1) + ((hold[s] >> 1) & 1);
		assert(state[s] != LOANED);
		assert(state[s] != FREE || (hold[s] == 0 && g_hold[s] == 0 && g_ret[s] == 0));
		assert(state[s] != PUBLISHED || (holders > 0 && holders == g_hold[s] + g_ret[s]));
		if
		:: state[s] == FREE -> n++
		:: else
		fi
	}
	assert(n == nfree);
	/* no lost wakeup: asleep for good while a slot was given back by every
	 * lane holding it */
	for (s : 0 .. S - 1) {
#ifndef HOSTILE
		assert(!(asleep && state[s] == PUBLISHED && g_hold[s] == 0))
#else
		/* a hostile lane can keep us asleep only on a slot it held when
		 * it was asked (as if it still held it: BLOCK lets any lane hold
		 * what it holds), never on one that only others gave back */
		assert(!(asleep && state[s] == PUBLISHED && g_hold[s] == 0 && !(hh & (1 << s))))
#endif
	}
#if !defined(STALL) && !defined(HOSTILE)
	/* honest subscribers: everything published, taken and released */
	assert(published == N && finished == L);
#endif
}

ltl live { <> (published == N) }
