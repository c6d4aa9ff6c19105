/* drop_oldest.pml — Promela model of the DROP_OLDEST handoff: publisher and
 * subscriber agree, by compare-and-swap on deliver_cons, who gets each entry.
 *
 * Mirrors (file:line function, at the main commit named in README.md;
 * run.sh checks that each function is still there, run.sh --refs the lines):
 *   core/ring.h:121 vdds__ring_pop_shared: a snapshot; the gap between it
 *       and our index counted as lost; empty?; entry[c]; CAS(cons, c, c+1):
 *       success -> the entry is ours; failure -> a new snapshot
 *   core/ring.h:96 vdds__ring_snapshot_shared: cons, prod, cons again until
 *       cons stood still; prod - cons > ring, or cons past prod: -EBADMSG
 *   core/subcore.h:96 vdds__subcore_take: shared_cons: vdds__ring_pop_shared,
 *       then the id checks, then the descriptor
 *   core/subcore.h:138 vdds__subcore_release: push on the release ring
 *       (its pub_wait handshake: slotwait.pml)
 *   notify/pub.c:171 vdds_pub_loan: vdds__pubcore_loan, else loan_overflow
 *   notify/pub.c:158 loan_overflow: DROP_OLDEST: vdds__pubcore_steal, then
 *       vdds__pubcore_loan
 *   core/pubcore.c:285 vdds__pubcore_steal: until a slot is free: queued()
 *       of every lane; steal_one from the one with something queued holding
 *       the most; nothing queued: vdds__pubcore_reclaim once more, else
 *       -ENOBUFS
 *   core/pubcore.c:241 queued: cons behind cons_seen or past prod: broken
 *   core/pubcore.c:255 steal_one: CAS(cons, c, c+1) from cons_seen; a failed
 *       CAS re-checks and retries; the slot from the shadow entry, which the
 *       lane must hold, else broken; drop_hold
 *   core/pubcore.c:126 drop_hold
 *   core/pubcore.c:173 reclaim_lane: an id out of range or not held: broken
 *   core/pubcore.c:187 vdds__pubcore_reclaim
 *   core/pubcore.c:164 vdds__pubcore_mark_broken: vdds__pubcore_detach
 *   core/pubcore.c:217 vdds__pubcore_detach: all its holds dropped
 *   core/pubcore.h:124 vdds__pubcore_loan
 *   core/pubcore.h:163 vdds__pubcore_publish: shadow entry, vdds__ring_push;
 *       a push that fails marks the lane broken
 *   core/ring.h:39 vdds__ring_push: cons read when the cache says full:
 *       impossible -> -EBADMSG, full -> -ENOSPC
 *   core/ring.h:64 vdds__ring_pop: the release rings
 * Holder sets: a mask per slot here, refs[] plus each lane's holds bitmap in
 * C; the same information. Not modelled: history (vdds__pubcore_remember;
 * a slot the history keeps is not free), timestamps and lengths.
 *
 * Memory: x86-TSO through tso.pml for prod and release prod; a CAS is a
 * locked instruction (full barrier, atomic on memory). Ring entries and
 * descriptors go straight to memory (written before the release store of
 * the index that publishes them; see slotwait.pml). The hostile subscriber
 * writes straight to memory: any delay a buffer would add is just another
 * interleaving of its writes.
 *
 * Bounds: 2 slots, rings of 2, N = 5 loans (each either published or
 * -ENOBUFS), one honest subscriber that takes whenever its ring shows
 * something new and releases at any pace. With HOSTILE, N = 3 and a second
 * lane whose subscriber, until the publisher is done, at any moment writes
 * any value 0..N to its cons, or once "releases" any slot id, taken or not;
 * the honest subscriber's take is then one atomic step (its interleavings
 * are checked without HOSTILE). The hostile one could also scribble on its
 * deliver ring, but the publisher never reads it there (it reads its
 * shadow), so only SHARED_ENTRY lets it: elsewhere it would be a dead word.
 *
 * Checked (safety, exhaustive; `watch` asserts when nothing can move):
 *   - each entry of the honest lane is taken by the subscriber or taken back
 *     by the publisher, never both (asserted at each CAS that succeeds),
 *     never neither (no entry still queued at the end);
 *   - no slot is loaned (written) while a lane that is not cut off holds it:
 *     queued, taken and not released, or given back and not reclaimed; the
 *     hostile lane holds what it was delivered until the publisher takes it
 *     back, reclaims its release, or cuts it off;
 *   - the honest subscriber's lost count equals the entries taken back from
 *     its lane, and the gaps in the seq it saw (those after its last sample
 *     too) equal it; an honest lane is never cut off and never sees -EBADMSG;
 *   - no slot lost: at the end every slot is free, or published with its
 *     holder mask equal to the lanes that still hold it; free count matches;
 *   - without HOSTILE, ltl `live` (acceptance cycles, no fairness needed):
 *     every run ends with the subscriber done.
 *
 * Variants (spin -D...; run.sh checks each outcome):
 *   HOSTILE          the hostile second lane: passes: it is cut off, or
 *                    holds what it was delivered until that is taken back
 *                    or released; the honest lane and the slot accounting
 *                    never notice it.
 *   NO_SNAPSHOT      vdds__ring_pop_shared as in 4bde34f: cons and prod read
 *                    once each, cons at most a ring ahead of our index:
 *                    MUST fail, an honest publisher's subscriber gets
 *                    -EBADMSG (it took back entries between the two loads,
 *                    or more than a ring's worth while the subscriber slept);
 *                    9578c60 made it the snapshot modelled here.
 *   SUB_STORE        the subscriber's CAS replaced by the SPSC pop of the
 *                    other policies (vdds__ring_pop: the entry at its own
 *                    index, then a release store of the index): MUST fail,
 *                    an entry both taken and taken back.
 *   LOST_ON_CAS_ONLY the gap between the subscriber's index and the shared
 *                    cons counted only after a failed CAS, not at the load
 *                    that starts a take: MUST fail, lost misses what was
 *                    taken back between two takes.
 *   HOSTILE + NO_SEEN_CHECK  the publisher accepts a cons behind the one it
 *                    last saw: MUST fail, the hostile subscriber moves cons
 *                    back and an entry is taken back twice.
 *   HOSTILE + SHARED_ENTRY   the publisher takes the stolen slot id from the
 *                    shared ring entry, not its shadow: MUST fail, the
 *                    hostile subscriber rewrites it.
 *   HOSTILE + NO_HOLDS_CHECK steal_one does not check that the lane holds
 *                    the slot: MUST fail, the hostile subscriber released a
 *                    sample it never took and the slot loses a second hold.
 */
#define S 2 /* slots */
#define R 2 /* ring size */
#ifdef HOSTILE
#define N 3 /* loans */
#define L 2 /* lane 0 honest, lane 1 hostile */
#else
#define N 5
#define L 1
#endif
#define HL 1 /* the hostile lane */
#define HOSTILE_RELEASES 1 /* releases the hostile subscriber may push */

#define DPROD(l) (l)
#define DCONS(l) (2 + (l))
#define RPROD(l) (4 + (l))
#define DENT(l, i) (6 + (l) * R + (i))
#define RENT(l, i) (10 + (l) * R + (i))
#define DSEQ(s) (14 + (s))
#define NVAR 16

#define NSB 2
#define PUB 0
#define SUB 1

#include "tso.pml"

#define FREE 0
#define LOANED 1
#define PUBLISHED 2

/* entry fates (ghost), per lane and index */
#define E_NONE 0
#define E_QUEUED 1
#define E_TAKEN 2    /* the honest subscriber's CAS moved cons past it */
#define E_RELEASED 3 /* given back on the release ring */
#define E_STOLEN 4   /* the publisher's CAS moved cons past it */
#define GE(l, e) ((l) * N + (e))
#define NONE 255
#define S_AGAIN 1 /* steal_one: the CAS failed, look again */
#define S_DONE 2

/* publisher-private (struct vdds__pubcore, vdds__lane_pub); global only so
 * `watch` can read them */
byte state[S];
byte hold[S];  /* bit l: lane l holds the slot (refs = its popcount) */
byte lheld[L]; /* lp->held */
byte dprod[L]; /* lp->deliver.mine */
bool cut[L];   /* marked broken, detached */
byte nfree = S;
bool pub_done;

/* ghosts */
byte gst[L * N];   /* fate of entry e of lane l */
byte gslot[L * N]; /* its slot */
byte gseq[L * N];  /* its seq */
byte g_ret[S];     /* given back on the honest release ring, not reclaimed */
byte stolen[L];    /* entries the publisher took back, per lane */
byte lost;         /* the honest subscriber's count (sc->lost) */
byte seqgaps;      /* the gaps in the seq it saw */
byte lastseq;      /* the seq of its last sample */
bool sub_done;

/* drop_hold: lane l no longer holds slot s; free once nobody does */
inline drop_hold(l, s)
{
	assert(hold[s] & (1 << l));
	hold[s] = hold[s] & ~(1 << l);
	lheld[l]--;
	if
	:: hold[s] == 0 && state[s] == PUBLISHED -> state[s] = FREE; nfree++
	:: else
	fi
}

/* vdds__pubcore_mark_broken -> vdds__pubcore_detach: drop all its holds */
inline cut_off(l)
{
	assert(l == HL); /* an honest lane never breaks the protocol */
	cut[l] = 1;
	s = 0;
	do
	:: s < S ->
		if
		:: hold[s] & (1 << l) -> drop_hold(l, s)
		:: else
		fi;
		s++
	:: else -> s = 0; break
	od
}

/* the hostile lane gave slot s back: its queued entry of s is no longer its */
inline ghost_returned(l, s)
{
	k = 0;
	do
	:: k < N ->
		if
		:: gslot[GE(l, k)] == s && gst[GE(l, k)] == E_QUEUED -> gst[GE(l, k)] = E_RELEASED
		:: else
		fi;
		k++
	:: else -> k = 0; break
	od
}

/* Each step of the publisher below is one access to shared memory (a load,
 * a CAS, a store into its buffer) with the private work around it: private
 * work commutes with everything, so this loses no behaviour. The publisher
 * never stores cons or release prod, so its loads of them read memory. */

/* reclaim_lane: vdds__ring_pop until empty; an id out of range or not held
 * marks the lane broken */
inline reclaim_lane(l)
{
	d_step {
		if
		:: !cut[l] ->
			rp = mem[RPROD(l)];
			if
			:: rp < rcons[l] || rp - rcons[l] > R -> cut_off(l)
			:: else
			fi;
			do
			:: cut[l] || rcons[l] == rp -> break
			:: else ->
				id = mem[RENT(l, rcons[l] % R)];
				rcons[l]++;
				if
				:: id >= S || !(hold[id] & (1 << l)) -> cut_off(l)
				:: else ->
					if
					:: l == 0 -> g_ret[id]--
					:: else -> ghost_returned(l, id)
					fi;
					drop_hold(l, id)
				fi
			od;
			rp = 0;
			id = 0
		:: else
		fi
	}
}

/* vdds__pubcore_reclaim */
inline reclaim()
{
	reclaim_lane(0);
#if L > 1
	reclaim_lane(1)
#endif
}

/* queued(lp), and lp the one to steal from if it holds the most */
inline queued(l)
{
	d_step {
		if
		:: !cut[l] ->
			c = mem[DCONS(l)];
#ifdef NO_SEEN_CHECK
			if
			:: c > dprod[l] -> cut_off(l)
#else
			if
			:: c < seen[l] || c > dprod[l] -> cut_off(l)
#endif
			:: else ->
				seen[l] = c;
				if
				:: dprod[l] > c && (most == NONE || lheld[l] > lheld[most]) -> most = l
				:: else
				fi
			fi;
			c = 0
		:: else
		fi
	}
}

/* steal_one(most): take back its oldest queued entry; one CAS per step */
inline steal_one(l)
{
	c = seen[l];
	do
	:: d_step {
		fence(PUB); /* a CAS is a locked instruction */
		if
		:: c == dprod[l] -> res = S_DONE /* it took them all meanwhile */
		:: c != dprod[l] && dprod[l] - c > R -> cut_off(l); res = S_DONE
		:: else ->
			/* whoever moves deliver_cons past c owns entry c */
			if
			:: mem[DCONS(l)] == c ->
				mem[DCONS(l)] = c + 1;
				/* never both: the subscriber had not taken it */
				assert(gst[GE(l, c)] == E_QUEUED ||
				       (l == HL && gst[GE(l, c)] == E_RELEASED));
				seen[l] = c + 1;
#ifdef SHARED_ENTRY
				id = mem[DENT(l, c % R)];
#else
				id = shadow[l * R + c % R];
#endif
#ifndef NO_HOLDS_CHECK
				if
				:: id >= S || !(hold[id] & (1 << l)) ->
					/* it released a sample it never took */
					cut_off(l)
				:: else ->
#else
				if
				:: true ->
#endif
					gst[GE(l, c)] = E_STOLEN;
					stolen[l]++;
					drop_hold(l, id)
				fi;
				id = 0;
				res = S_DONE
			:: else ->
				c = mem[DCONS(l)];
#ifdef NO_SEEN_CHECK
				if
				:: c > dprod[l] -> cut_off(l); res = S_DONE
#else
				if
				:: c < seen[l] || c > dprod[l] -> cut_off(l); res = S_DONE
#endif
				:: else -> seen[l] = c; res = S_AGAIN
				fi
			fi
		fi
	   };
		if
		:: res == S_DONE -> break
		:: else
		fi
	od;
	c = 0;
	res = 0
}

/* vdds__ring_push to lane l (the cons is read when the cache says full:
 * impossible -> -EBADMSG, full -> -ENOSPC, either marks the lane broken) */
inline push(l)
{
	d_step {
		sb_room(PUB);
		if
		:: !cut[l] ->
			shadow[l * R + dprod[l] % R] = id;
			if
			:: dprod[l] - cached[l] >= R ->
				c = mem[DCONS(l)];
				if
				:: c > dprod[l] || dprod[l] - c >= R -> cut_off(l)
				:: else -> cached[l] = c
				fi;
				c = 0
			:: else
			fi;
			if
			:: !cut[l] ->
				gst[GE(l, dprod[l])] = E_QUEUED; /* ghost: before anyone sees it */
				gslot[GE(l, dprod[l])] = id;
				gseq[GE(l, dprod[l])] = seq;
				mem[DENT(l, dprod[l] % R)] = id;
				dprod[l]++;
				st_in_step(PUB, DPROD(l), dprod[l]);
				hold[id] = hold[id] | (1 << l);
				lheld[l]++
			:: else
			fi
		:: else
		fi
	}
}

active proctype publisher()
{
	byte m, id, l, s, k, c, rp, seq, most, res;
	byte seen[L], rcons[L], shadow[L * R], cached[L];

	for (m : 1 .. N) {
		/* vdds_pub_loan -> vdds__pubcore_loan: reclaim if none is free */
		if
		:: nfree == 0 -> reclaim()
		:: else
		fi;
		/* loan_overflow, DROP_OLDEST: vdds__pubcore_steal */
		do
		:: nfree > 0 -> break
		:: else ->
			most = NONE;
			queued(0);
#if L > 1
			queued(1);
#endif
			if
			:: most == NONE ->
				/* nothing queued: released meanwhile? else -ENOBUFS */
				reclaim();
				break
			:: else -> steal_one(most); most = 0
			fi
		od;
		if
		:: nfree == 0 -> goto next /* loan returned -ENOBUFS */
		:: else
		fi;
		d_step {
			id = 0;
			do
			:: state[id] == FREE -> break
			:: else -> id++
			od;
			/* no slot owned by two parties: nobody holds what we write */
			assert(hold[id] == 0 && g_ret[id] == 0);
			k = 0;
			do
			:: k < L * N ->
				assert(cut[k / N] || gslot[k] != id ||
				       (gst[k] != E_QUEUED && gst[k] != E_TAKEN));
				k++
			:: else -> k = 0; break
			od;
			state[id] = LOANED;
			nfree--;
			/* (the application writes the payload) */
			/* vdds__pubcore_publish */
			seq++;
			mem[DSEQ(id)] = seq;
			state[id] = PUBLISHED
		}
		push(0);
#if L > 1
		push(1);
#endif
		d_step {
			if
			:: hold[id] == 0 -> state[id] = FREE; nfree++
			:: else
			fi;
			id = 0
		}
next:		skip
	}
	pub_done = 1
}

#define T_OK 0
#define T_EAGAIN 1
#define T_EBADMSG 2

active proctype subscriber()
{
	byte mine, c, prod, v, cur, rprod, held, sq, e, res;

end_idle:
	do
	:: mem[DPROD(0)] != mine ->
		/* vdds_sub_take -> vdds__subcore_take (the subscriber never
		 * stores prod: memory is what its loads see) */
#ifdef SUB_STORE
		/* the SPSC vdds__ring_pop: the entry at our index, our index
		 * stored (release) */
		atomic {
			c = mine;
			v = mem[DENT(0, c % R)];
			assert(gst[GE(0, c)] == E_QUEUED);
			gst[GE(0, c)] = E_TAKEN;
			st(SUB, DCONS(0), c + 1);
			res = T_OK
		}
#elif defined(HOSTILE)
		/* with HOSTILE, vdds__ring_pop_shared in one step (its own
		 * interleavings are checked without HOSTILE) */
		d_step {
			c = mem[DCONS(0)];
			prod = mem[DPROD(0)];
			assert(c >= mine && prod >= c && prod - c <= R);
			lost = lost + (c - mine);
			mine = c;
			if
			:: prod == c -> res = T_EAGAIN
			:: else ->
				v = mem[DENT(0, c % R)];
				mem[DCONS(0)] = c + 1;
				assert(gst[GE(0, c)] == E_QUEUED);
				gst[GE(0, c)] = E_TAKEN;
				res = T_OK
			fi
		}
#else
		/* vdds__ring_pop_shared */
		do
		:: /* vdds__ring_snapshot_shared: cons, prod, cons again until
		    * cons stood still */
			c = mem[DCONS(0)];
#ifndef NO_SNAPSHOT
			do
			:: prod = mem[DPROD(0)];
				if
				:: c != mem[DCONS(0)] -> c = mem[DCONS(0)]
				:: else -> break
				fi
			od;
#else
			/* 4bde34f: each index read once; ours at most a ring behind */
			if
			:: c < mine || c - mine > R -> res = T_EBADMSG; break
			:: else
			fi;
			prod = mem[DPROD(0)];
#endif
			atomic {
				/* prod more than a ring ahead, or cons past prod (or
				 * behind ours): impossible */
				if
				:: c < mine || prod < c || prod - c > R -> res = T_EBADMSG; break
				:: else
				fi;
#ifndef LOST_ON_CAS_ONLY
				lost = lost + (c - mine); /* taken back meanwhile */
#endif
				mine = c;
				if
				:: prod == c -> res = T_EAGAIN; break
				:: else
				fi;
				v = mem[DENT(0, c % R)]
			}
			/* whoever moves cons past c owns entry c */
			d_step {
				fence(SUB);
				if
				:: mem[DCONS(0)] == c ->
					mem[DCONS(0)] = c + 1;
					res = T_OK;
					/* never both: the publisher has not taken it back */
					assert(gst[GE(0, c)] == E_QUEUED);
					gst[GE(0, c)] = E_TAKEN
				:: else -> cur = mem[DCONS(0)]; res = T_EAGAIN
				fi
			}
			if
			:: res == T_OK -> break
			:: else
			fi;
#ifdef LOST_ON_CAS_ONLY
			lost = lost + (cur - c);
#endif
			cur = 0
		od;
		/* an honest publisher never makes its subscriber see -EBADMSG */
		assert(res != T_EBADMSG);
#endif
		atomic {
			if
			:: res == T_OK ->
				/* it is ours: the id checks, then the descriptor */
				assert(v < S && state[v] == PUBLISHED && !(held & (1 << v)));
				assert(v == gslot[GE(0, c)]);
				mine = c + 1;
				sq = mem[DSEQ(v)];
				assert(sq > lastseq);
				seqgaps = seqgaps + (sq - lastseq - 1);
				lastseq = sq;
				held = held | (1 << v)
			:: else
			fi;
			res = 0;
			c = 0;
			v = 0;
			prod = 0;
			sq = 0
		}
	:: atomic {
		held != 0 ->
		if
		:: held & 1 -> v = 0
		:: held & 2 -> v = 1
		fi;
		/* vdds__subcore_release (the pub_wait handshake: slotwait.pml) */
		held = held & ~(1 << v);
		e = 0;
		do
		:: e < N ->
			if
			:: gslot[GE(0, e)] == v && gst[GE(0, e)] == E_TAKEN -> gst[GE(0, e)] = E_RELEASED
			:: else
			fi;
			e++
		:: else -> e = 0; break
		od;
		g_ret[v]++;
		mem[RENT(0, rprod % R)] = v;
		rprod++;
		st(SUB, RPROD(0), rprod);
		v = 0
	   }
	:: pub_done && fence(PUB) && mem[DPROD(0)] == mine && held == 0 -> break
	od;
	sub_done = 1
}

#ifdef HOSTILE
/* lane 1: until the publisher is done, at any moment, writes any value to
 * its cons, or "releases" any slot id (the entry, then its release prod;
 * once), or (SHARED_ENTRY) rewrites the first entry of its deliver ring */
active proctype hostile()
{
	byte v, rel;

	do
	:: !pub_done -> select(v : 0 .. N); mem[DCONS(HL)] = v; v = 0
#ifdef SHARED_ENTRY
	/* only read by a publisher that trusts the shared entry: elsewhere a
	 * dead word, which would only multiply the states (and here, releases
	 * would only slow the search down) */
	:: !pub_done -> select(v : 0 .. S - 1); mem[DENT(HL, 0)] = v; v = 0
#else
	:: !pub_done && rel < HOSTILE_RELEASES ->
		select(v : 0 .. S - 1);
		mem[RENT(HL, rel % R)] = v;
		rel++;
		mem[RPROD(HL)] = rel;
		v = 0
#endif
	:: pub_done -> break
	od
}
#endif

/* When nothing can move any more: the run is over. */
active proctype watch()
{
	byte s, k, e, mask, n;

	timeout ->
	assert(pub_done && sub_done);
	/* never neither: every entry of the honest lane taken or taken back */
	for (e : 0 .. N - 1) {
		assert(e >= dprod[0] || gst[GE(0, e)] == E_TAKEN ||
		       gst[GE(0, e)] == E_RELEASED || gst[GE(0, e)] == E_STOLEN)
	}
	/* lost = entries taken back = the seq gaps, those after the last too */
	assert(lost == stolen[0]);
	if
	:: dprod[0] > 0 -> assert(seqgaps + gseq[GE(0, dprod[0] - 1)] - lastseq == lost)
	:: else -> assert(lost == 0)
	fi;
	/* no slot lost: the holder masks are the truth, the free count too */
	for (s : 0 .. S - 1) {
		mask = 0;
		if
		:: g_ret[s] > 0 -> mask = 1
		:: else
		fi;
		for (k : 0 .. L * N - 1) {
			if
			:: !cut[k / N] && gslot[k] == s && (gst[k] == E_QUEUED || gst[k] == E_TAKEN) ->
				mask = mask | (1 << (k / N))
			:: else
			fi
		}
		assert(state[s] != LOANED);
		assert(state[s] != FREE || (hold[s] == 0 && mask == 0));
		assert(state[s] != PUBLISHED || (hold[s] == mask && mask != 0));
		if
		:: state[s] == FREE -> n++
		:: else
		fi
	}
	assert(n == nfree)
}

#ifndef HOSTILE
ltl live { <> sub_done }
#endif
