/* drop_oldest.pml — Promela model of the DROP_OLDEST handoff: publisher and
 * subscriber agree, by compare-and-swap on deliver_cons, who gets each entry.
 * Layout 3: deliver entries carry a mark (position + 1), the slot and the
 * seq; release entries a mark and the slot; nobody reads a producer index.
 *
 * Mirrors (file:line function, at the main commit named in README.md;
 * run.sh checks that each function is still there, run.sh --refs the lines):
 *   core/ring.h:181 vdds__deliver_pop_shared: a snapshot; the gap between it
 *       and our position counted as lost; not yet there?; the entry's slot
 *       and seq; CAS(cons, c, c+1): success -> the entry is ours (the
 *       fields read before it were entry c's); failure -> a new snapshot
 *   core/ring.h:149 vdds__deliver_snapshot_shared: cons, the mark at cons,
 *       cons again; a mark no lap explains: cons moved -> again, else
 *       -EBADMSG; cons behind our position: -EBADMSG
 *   core/ring.h:20 vdds__mark_state: position + 1 here; last lap's, or 0,
 *       not yet; anything else wrong
 *   core/subcore.h:110 vdds__subcore_take: shared_cons: vdds__deliver_pop_shared,
 *       then the id checks
 *   core/subcore.h:160 vdds__subcore_release: vdds__release_push
 *       (its pub_wait handshake: slotwait.pml)
 *   core/ring.h:225 vdds__release_push: the entry (mark, slot), a release store
 *   notify/pub.c:246 vdds_pub_loan: vdds__pubcore_loan, else loan_overflow
 *   notify/pub.c:233 loan_overflow: DROP_OLDEST: vdds__pubcore_steal, then
 *       vdds__pubcore_loan
 *   core/pubcore.c:356 vdds__pubcore_steal: until a slot is free: queued()
 *       of every lane; steal_one from the one with something queued holding
 *       the most; nothing queued: vdds__pubcore_reclaim once more, else
 *       -ENOBUFS
 *   core/pubcore.c:315 queued: cons_sane, cons behind cons_seen or past prod: broken
 *   core/pubcore.c:182 cons_sane
 *   core/pubcore.c:327 steal_one: CAS(cons, c, c+1) from cons_seen; a failed
 *       CAS re-checks and retries; the slot from the shadow entry, which the
 *       lane must hold, else broken; drop_hold
 *   core/pubcore.c:131 drop_hold
 *   core/pubcore.c:229 reclaim_lane: vdds__release_pop until not yet there;
 *       a wrong mark, an id out of range or not held: broken; then
 *       cons_sane on deliver_cons
 *   core/ring.h:238 vdds__release_pop: the entry's mark judged by
 *       vdds__mark_state
 *   core/pubcore.c:261 vdds__pubcore_reclaim
 *   core/pubcore.c:172 vdds__pubcore_mark_broken: vdds__pubcore_detach
 *   core/pubcore.c:291 vdds__pubcore_detach: all its holds dropped
 *   core/pubcore.h:146 vdds__pubcore_loan
 *   core/pubcore.h:191 vdds__pubcore_publish: our copy of cons says full:
 *       vdds__lane_pub_has_room (cons read: impossible or full marks the
 *       lane broken); shadow entry, vdds__deliver_push
 *   core/pubcore.c:190 vdds__lane_pub_has_room
 *   core/ring.h:81 vdds__deliver_push: slot, seq (relaxed), then the mark
 *       (release)
 * Holder sets: a mask per slot here, refs[] plus each lane's holds bitmap in
 * C; the same information. Not modelled: history (vdds__pubcore_remember;
 * a slot the history keeps is not free), timestamps and lengths (read and
 * written with the seq), position wrap-around (test_ring.c).
 *
 * Memory: x86-TSO through tso.pml for the marks (deliver and release
 * entries); a CAS is a locked instruction (full barrier, atomic on memory).
 * An entry's slot and seq go straight to memory, in the step that buffers
 * its mark: visible no later than the mark, as TSO's FIFO buffer makes them,
 * and possibly earlier (more behaviours). The hostile subscriber writes
 * straight to memory: any delay a buffer would add is just another
 * interleaving of its writes.
 *
 * Bounds: 2 slots, rings of 2, N = 5 loans (each either published or
 * -ENOBUFS), one honest subscriber that takes whenever its ring shows
 * something new and releases at any pace. At these bounds the publisher can
 * take back every entry after one the subscriber took and lap the ring, so
 * it rewrites that entry while the subscriber still holds its slot. With
 * HOSTILE, N = 3 and a second lane whose subscriber, until the publisher is
 * done, at any moment writes any value 0..N to its cons, or once "releases"
 * any slot id, taken or not, under the right mark or one a lap ahead; the
 * honest subscriber's take is then one atomic step (its interleavings are
 * checked without HOSTILE). The hostile one could also scribble on its
 * deliver ring, but the publisher never reads it there (it reads its
 * shadow), so only SHARED_ENTRY lets it: elsewhere it would be a dead word.
 *
 * Checked (safety, exhaustive; `watch` asserts when nothing can move):
 *   - each entry of the honest lane is taken by the subscriber or taken back
 *     by the publisher, never both (asserted at each CAS that succeeds),
 *     never neither (no entry still queued at the end);
 *   - the slot and seq the subscriber took are the entry's it owns;
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
 *   NO_RECHECK       the snapshot does not look at cons again when the mark
 *                    is no lap's it expects: MUST fail, an honest
 *                    publisher's subscriber gets -EBADMSG (the publisher
 *                    took c back and wrote index c again a lap later
 *                    between the subscriber's two loads).
 *   FIELDS_AFTER_CAS the subscriber reads the entry's slot and seq after its
 *                    CAS, as a first draft of layout 3 did: MUST fail, the
 *                    publisher took back the entries after it, lapped the
 *                    ring and rewrote the entry meanwhile.
 *   SUB_STORE        the subscriber's CAS replaced by the SPSC pop of the
 *                    other policies (vdds__deliver_pop: the entry at its own
 *                    position, then a release store of the index): MUST
 *                    fail, an entry both taken and taken back.
 *   LOST_ON_CAS_ONLY the gap between the subscriber's position and the
 *                    shared cons counted only after a failed CAS, not at the
 *                    load that starts a take: MUST fail, lost misses what
 *                    was taken back between two takes.
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

#define DCONS(l) (l)
#define RENT(l, i) (2 + (l) * R + (i))  /* release entry: mark * 8 + slot */
#define DMARK(l, i) (6 + (l) * R + (i)) /* deliver entry: mark */
#define DSLOT(l, i) (10 + (l) * R + (i)) /* ... slot */
#define DSEQ(l, i) (14 + (l) * R + (i))  /* ... seq */
#define NVAR 18

/* vdds__mark_state: the mark m found at position p */
#define M_HERE(m, p) ((m) == (p) + 1)
#define M_NOT_YET(m, p) ((m) == 0 || ((p) + 1 >= R && (m) == (p) + 1 - R))

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
byte dprod[L]; /* lp->deliver.pos */
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
 * never stores cons (but by CAS, a locked instruction) nor release entries,
 * so its loads of them read memory. */

/* reclaim_lane: vdds__release_pop until an entry is not yet there; a wrong
 * mark, an id out of range or not held marks the lane broken; then
 * cons_sane on its deliver_cons */
inline reclaim_lane(l)
{
	d_step {
		if
		:: !cut[l] ->
			do
			:: cut[l] -> break
			:: else ->
				rp = mem[RENT(l, rcons[l] % R)];
				id = rp % 8;
				rp = rp / 8;
				if
				:: M_HERE(rp, rcons[l]) ->
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
				:: M_NOT_YET(rp, rcons[l]) -> break
				:: else -> cut_off(l)
				fi
			od;
			if
			:: !cut[l] ->
				c = mem[DCONS(l)];
				if
				:: c < seen[l] || c > dprod[l] -> cut_off(l)
				:: else -> seen[l] = c
				fi;
				c = 0
			:: else
			fi;
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
				id = mem[DSLOT(l, c % R)];
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

/* vdds__pubcore_publish for lane l: when our copy of its cons says the
 * ring is full, vdds__lane_pub_has_room reads it (impossible or full marks
 * the lane broken); then vdds__deliver_push: slot and seq, then the mark */
inline push(l)
{
	d_step {
		sb_room(PUB);
		if
		:: !cut[l] ->
			if
			:: dprod[l] - seen[l] >= R ->
				c = mem[DCONS(l)];
				if
				:: c < seen[l] || c > dprod[l] || dprod[l] - c >= R -> cut_off(l)
				:: else -> seen[l] = c
				fi;
				c = 0
			:: else
			fi;
			if
			:: !cut[l] ->
				shadow[l * R + dprod[l] % R] = id;
				gst[GE(l, dprod[l])] = E_QUEUED; /* ghost: before anyone sees it */
				gslot[GE(l, dprod[l])] = id;
				gseq[GE(l, dprod[l])] = seq;
				mem[DSLOT(l, dprod[l] % R)] = id;
				mem[DSEQ(l, dprod[l] % R)] = seq;
				dprod[l]++;
				st_in_step(PUB, DMARK(l, (dprod[l] - 1) % R), dprod[l]);
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
	byte seen[L], rcons[L], shadow[L * R];

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
	byte mine, c, m, v, cur, rprod, held, sq, e, res;

end_idle:
	do
	:: (M_HERE(mem[DMARK(0, mine % R)], mine) || mem[DCONS(0)] != mine) ->
		/* vdds_sub_take -> vdds__subcore_take, when there is something
		 * to see (a look that finds nothing changes nothing). The
		 * subscriber writes cons only by CAS: memory is what it sees. */
#ifdef SUB_STORE
		/* the SPSC vdds__deliver_pop: the entry at our position, our
		 * index stored (release) */
		atomic {
			c = mine;
			if
			:: M_HERE(mem[DMARK(0, c % R)], c) ->
				v = mem[DSLOT(0, c % R)];
				sq = mem[DSEQ(0, c % R)];
				assert(gst[GE(0, c)] == E_QUEUED);
				gst[GE(0, c)] = E_TAKEN;
				st(SUB, DCONS(0), c + 1);
				res = T_OK
			:: else -> res = T_EAGAIN
			fi
		}
#elif defined(HOSTILE)
		/* with HOSTILE, vdds__deliver_pop_shared in one step (its own
		 * interleavings are checked without HOSTILE) */
		d_step {
			c = mem[DCONS(0)];
			m = mem[DMARK(0, c % R)];
			assert(c >= mine && (M_HERE(m, c) || M_NOT_YET(m, c)));
			lost = lost + (c - mine);
			mine = c;
			if
			:: M_NOT_YET(m, c) -> res = T_EAGAIN
			:: else ->
				v = mem[DSLOT(0, c % R)];
				sq = mem[DSEQ(0, c % R)];
				mem[DCONS(0)] = c + 1;
				assert(gst[GE(0, c)] == E_QUEUED);
				gst[GE(0, c)] = E_TAKEN;
				res = T_OK
			fi;
			m = 0
		}
#else
		/* vdds__deliver_pop_shared */
		do
		:: /* vdds__deliver_snapshot_shared: cons, its entry's mark, cons
		    * again; a mark no lap explains is only honest if cons moved */
			c = mem[DCONS(0)];
			do
			:: m = mem[DMARK(0, c % R)];
				if
				:: c < mine -> res = T_EBADMSG; break
				:: M_HERE(m, c) || M_NOT_YET(m, c) -> break
				:: else
				fi;
#ifndef NO_RECHECK
				if
				:: c != mem[DCONS(0)] -> c = mem[DCONS(0)]
				:: else -> res = T_EBADMSG; break
				fi
#else
				res = T_EBADMSG;
				break
#endif
			od;
			if
			:: res == T_EBADMSG -> break
			:: else
			fi;
			atomic {
#ifndef LOST_ON_CAS_ONLY
				lost = lost + (c - mine); /* taken back meanwhile */
#endif
				mine = c;
				if
				:: M_NOT_YET(m, c) -> res = T_EAGAIN; m = 0; break
				:: else -> m = 0
				fi
			}
#ifndef FIELDS_AFTER_CAS
			/* the fields, before the CAS that proves them entry c's */
			v = mem[DSLOT(0, c % R)];
			sq = mem[DSEQ(0, c % R)];
#endif
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
#ifdef FIELDS_AFTER_CAS
			if
			:: res == T_OK ->
				v = mem[DSLOT(0, c % R)];
				sq = mem[DSEQ(0, c % R)]
			:: else
			fi;
#endif
			if
			:: res == T_OK -> break
			:: else
			fi;
#ifdef LOST_ON_CAS_ONLY
			lost = lost + (cur - c);
#endif
			cur = 0;
			v = 0;
			sq = 0
		od;
		/* an honest publisher never makes its subscriber see -EBADMSG */
		assert(res != T_EBADMSG);
#endif
		atomic {
			if
			:: res == T_OK ->
				/* it is ours: the id checks; what it read is entry c's */
				assert(v < S && state[v] == PUBLISHED && !(held & (1 << v)));
				assert(v == gslot[GE(0, c)] && sq == gseq[GE(0, c)]);
				mine = c + 1;
				assert(sq > lastseq);
				seqgaps = seqgaps + (sq - lastseq - 1);
				lastseq = sq;
				held = held | (1 << v)
			:: else
			fi;
			res = 0;
			c = 0;
			v = 0;
			sq = 0
		}
	:: atomic {
		held != 0 ->
		if
		:: held & 1 -> v = 0
		:: held & 2 -> v = 1
		fi;
		/* vdds__subcore_release -> vdds__release_push (the pub_wait
		 * handshake: slotwait.pml) */
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
		rprod++;
		e = rprod * 8 + v; /* (st's own parameter is named v) */
		st(SUB, RENT(0, (rprod - 1) % R), e);
		e = 0;
		v = 0
	   }
	:: pub_done && fence(PUB) && mem[DCONS(0)] == mine &&
	   !M_HERE(mem[DMARK(0, mine % R)], mine) && held == 0 -> break
	od;
	sub_done = 1
}

#ifdef HOSTILE
/* lane 1: until the publisher is done, at any moment, writes any value to
 * its cons, or "releases" any slot id under the right mark or one a lap
 * ahead (once), or (SHARED_ENTRY) rewrites the slot of the first entry of
 * its deliver ring */
active proctype hostile()
{
	byte v, rel;

	do
	:: !pub_done -> select(v : 0 .. N); mem[DCONS(HL)] = v; v = 0
#ifdef SHARED_ENTRY
	/* only read by a publisher that trusts the shared entry: elsewhere a
	 * dead word, which would only multiply the states (and here, releases
	 * would only slow the search down) */
	:: !pub_done -> select(v : 0 .. S - 1); mem[DSLOT(HL, 0)] = v; v = 0
#else
	:: !pub_done && rel < HOSTILE_RELEASES ->
		select(v : 0 .. S - 1);
		rel++;
		if
		:: mem[RENT(HL, (rel - 1) % R)] = rel * 8 + v
		:: mem[RENT(HL, (rel - 1) % R)] = (rel + R) * 8 + v
		fi;
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
