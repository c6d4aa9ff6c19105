/* vdds.hpp — vdds for C++17, header-only, over the C API of vdds.h: typed
 * publishers and subscribers whose samples publish, discard or release
 * themselves, and errors as std::system_error.
 *
 *   struct Pose { double x, y, theta; };
 *   VDDS_TYPE_NAME(Pose);                     // the name on the wire: "Pose"
 *
 *   vdds::Publisher<Pose> pub("pose");
 *   auto s = pub.loan();                      // a slot in shared memory
 *   s->x = 1.0;
 *   s.publish();                              // or, going out of scope, discarded
 *
 *   vdds::Subscriber<Pose> sub("pose");       // a Pose publisher, or std::system_error
 *   while (sub.wait())                        // or an event loop on sub.fd()
 *           while (auto s = sub.try_take())   // std::optional<vdds::Sample<Pose>>
 *                   use((*s)->x, s->seq());   // released when s goes
 *
 * The rules are those of the C API (vdds.h) and of VDDS_TYPED, which speaks
 * the same types from C: the publisher declares the type's name and sizeof,
 * a subscriber asks for both, and is refused (EPROTO) by a publisher of
 * another type. Each object is used by one thread at a time. A Loan must not
 * outlive its Publisher, nor a Sample its Subscriber.
 *
 * Errors: every failing call throws std::system_error whose code() is
 * {positive errno, std::generic_category()} (so e.code() == std::errc::...
 * works) and whose what() names the call, says vdds_strerror() and, for a
 * refused handshake (EPROTO, EACCES, ENOSPC), an open out of file
 * descriptors (EMFILE, ENFILE) or any call given a bad argument (EINVAL:
 * which one),
 * vdds_last_error_detail(), e.g.
 * "vdds_sub_open: protocol version, type name or type size mismatch: type
 * 'Pose' (24 B) expected, publisher has 'Twist' (48 B)". Nothing else
 * throws; destructors never do. "Nothing now" is not an error: try_loan and
 * try_take return an empty std::optional, wait returns false on timeout.
 * Nor is the end: once the publisher is gone and everything it sent was
 * taken, wait returns false and try_take an empty optional for good (ended()
 * says which false it was), so the loop above ends as Python's `for` does;
 * only take(), which must return a sample, throws EPIPE then. */
#ifndef VDDS_HPP
#define VDDS_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "vdds.h"

namespace vdds
{

/* The name T goes by on the wire. Declare it once per type, at global
 * scope, with VDDS_TYPE_NAME(T) (the name as written, as VDDS_TYPED(T) does
 * in C), or specialise it by hand for another name. */
template <class T> struct type_name {
	static constexpr const char *value = nullptr;
};

#define VDDS_TYPE_NAME(T)                                                                          \
	template <> struct vdds::type_name<T> {                                                    \
		static constexpr const char *value = #T;                                           \
	}

namespace detail
{

/* Throw for a negative vdds return value err from `call`; `why`, when
 * given, is the reason in words instead of the library's detail. */
[[noreturn]] inline void throw_error(int err, const char *call, const char *why = nullptr)
{
	std::string what = call;

	what += ": ";
	what += vdds_strerror(err);
	/* a refused handshake, an open out of file descriptors, or any call
	 * given a bad argument, left its reason on this thread just now (the
	 * detail outlives other calls, so it is read only for the codes that
	 * set it) */
	if (!why && (err == -EPROTO || err == -EACCES || err == -ENOSPC || err == -EMFILE ||
		     err == -ENFILE || err == -EINVAL))
		why = vdds_last_error_detail();
	if (why && why[0]) {
		what += ": ";
		what += why;
	}
	throw std::system_error(-err, std::generic_category(), what);
}

inline int check(int ret, const char *call)
{
	if (ret < 0)
		throw_error(ret, call);
	return ret;
}

template <class T> constexpr void check_type()
{
	static_assert(
		std::is_trivially_copyable_v<T>,
		"vdds copies samples as bytes between processes: T must be trivially copyable");
	static_assert(alignof(T) <= VDDS_SLOT_ALIGN, "slots are aligned to VDDS_SLOT_ALIGN bytes");
	static_assert(type_name<T>::value != nullptr,
		      "name the type once, at global scope: VDDS_TYPE_NAME(T);");
}

} // namespace detail

template <class T> class Publisher;
template <class T> class Subscriber;

/* A slot loaned from a Publisher, to write a T into in place. publish()
 * sends it; if it is not published, it is discarded when the Loan goes (or
 * by discard()). Move-only: a moved-from Loan holds nothing and does
 * nothing; publish() on it throws EINVAL. */
template <class T> class Loan
{
      public:
	Loan() noexcept = default;
	Loan(Loan &&o) noexcept
	    : pub_(std::exchange(o.pub_, nullptr)), ptr_(std::exchange(o.ptr_, nullptr))
	{
	}
	Loan &operator=(Loan &&o) noexcept
	{
		if (this != &o) {
			discard();
			pub_ = std::exchange(o.pub_, nullptr);
			ptr_ = std::exchange(o.ptr_, nullptr);
		}
		return *this;
	}
	Loan(const Loan &) = delete;
	Loan &operator=(const Loan &) = delete;
	~Loan()
	{
		discard();
	}

	T *operator->() const noexcept
	{
		return ptr_;
	}
	T &operator*() const noexcept
	{
		return *ptr_;
	}
	T *get() const noexcept
	{
		return ptr_;
	}
	explicit operator bool() const noexcept
	{
		return ptr_ != nullptr;
	}

	/* Send sizeof(T) bytes to every subscriber; the Loan is then empty. On
	 * failure it throws and still holds the slot. */
	void publish()
	{
		detail::check(vdds_pub_publish(pub_, ptr_, sizeof(T)), "vdds_pub_publish");
		pub_ = nullptr;
		ptr_ = nullptr;
	}

	/* Give the slot back unpublished; nothing if empty. */
	void discard() noexcept
	{
		if (ptr_)
			vdds_pub_discard(pub_, ptr_);
		pub_ = nullptr;
		ptr_ = nullptr;
	}

      private:
	friend class Publisher<T>;
	Loan(vdds_pub *pub, T *ptr) noexcept : pub_(pub), ptr_(ptr)
	{
	}

	vdds_pub *pub_ = nullptr;
	T *ptr_ = nullptr;
};

/* A sample taken from a Subscriber: a read-only T in shared memory, released
 * when the Sample goes (or by release()). Move-only: a moved-from Sample
 * holds nothing and releases nothing. */
template <class T> class Sample
{
      public:
	Sample() noexcept = default;
	Sample(Sample &&o) noexcept
	    : sub_(std::exchange(o.sub_, nullptr)), data_(std::exchange(o.data_, nullptr)),
	      raw_(o.raw_)
	{
	}
	Sample &operator=(Sample &&o) noexcept
	{
		if (this != &o) {
			release();
			sub_ = std::exchange(o.sub_, nullptr);
			data_ = std::exchange(o.data_, nullptr);
			raw_ = o.raw_;
		}
		return *this;
	}
	Sample(const Sample &) = delete;
	Sample &operator=(const Sample &) = delete;
	~Sample()
	{
		release();
	}

	const T *operator->() const noexcept
	{
		return data_;
	}
	const T &operator*() const noexcept
	{
		return *data_;
	}
	const T *get() const noexcept
	{
		return data_;
	}
	explicit operator bool() const noexcept
	{
		return data_ != nullptr;
	}

	/* The publisher's count (1, 2, ...), its CLOCK_MONOTONIC time of
	 * publishing, which publisher (0, then +1 per reconnect). */
	std::uint64_t seq() const noexcept
	{
		return raw_.seq;
	}
	std::uint64_t timestamp_ns() const noexcept
	{
		return raw_.timestamp_ns;
	}
	std::uint32_t epoch() const noexcept
	{
		return raw_.epoch;
	}
	const struct vdds_sample &raw() const noexcept
	{
		return raw_;
	}

	/* Give the slot back to the publisher; nothing if empty. */
	void release() noexcept
	{
		if (sub_)
			vdds_sub_release(sub_, &raw_);
		sub_ = nullptr;
		data_ = nullptr;
	}

      private:
	friend class Subscriber<T>;

	vdds_sub *sub_ = nullptr;
	const T *data_ = nullptr;
	struct vdds_sample raw_ = {};
};

/* Publishes samples of T on a topic (vdds_pub_open; see vdds.h for the
 * options). Move-only; closed by its destructor. */
template <class T> class Publisher
{
      public:
	/* opts is copied: type_name, type_size and slot_size are filled in as
	 * VDDS_TYPED does (EINVAL if they contradict T). */
	explicit Publisher(const std::string &topic, const struct vdds_pub_opts &opts = {})
	{
		detail::check_type<T>();
		struct vdds_pub_opts o;
		int err = vdds__typed_pub_opts(&o, &opts, type_name<T>::value, sizeof(T));

		if (err < 0)
			detail::throw_error(err, "vdds_pub_open",
					    "type_size or slot_size contradicts sizeof(T)");
		detail::check(vdds_pub_open(&pub_, topic.c_str(), &o), "vdds_pub_open");
	}
	Publisher(Publisher &&o) noexcept : pub_(std::exchange(o.pub_, nullptr))
	{
	}
	Publisher &operator=(Publisher &&o) noexcept
	{
		if (this != &o) {
			vdds_pub_close(pub_);
			pub_ = std::exchange(o.pub_, nullptr);
		}
		return *this;
	}
	Publisher(const Publisher &) = delete;
	Publisher &operator=(const Publisher &) = delete;
	~Publisher()
	{
		vdds_pub_close(pub_);
	}

	/* A free slot; waits for one as long as it takes. */
	Loan<T> loan()
	{
		void *buf;

		detail::check(vdds_pub_loan(pub_, &buf, -1), "vdds_pub_loan");
		return Loan<T>(pub_, static_cast<T *>(buf));
	}

	/* A free slot, waiting at most timeout_ms (0: not at all, < 0: as
	 * long as it takes); empty if none came (EAGAIN, ETIMEDOUT, also
	 * under the FAIL policy). Other errors throw, among them ENOBUFS
	 * under DROP_OLDEST when every slot is held by taken samples. */
	std::optional<Loan<T>> try_loan(int timeout_ms = 0)
	{
		void *buf;
		int err = vdds_pub_loan(pub_, &buf, timeout_ms);

		if (err == -EAGAIN || err == -ETIMEDOUT)
			return std::nullopt;
		detail::check(err, "vdds_pub_loan");
		return Loan<T>(pub_, static_cast<T *>(buf));
	}

	/* Copy value into a slot and publish it; waits for a slot as long as
	 * it takes. */
	void write(const T &value)
	{
		detail::check(vdds_pub_write(pub_, &value, sizeof(T), -1), "vdds_pub_write");
	}

	/* For publishers opened with no_service_thread: the fd to watch, and
	 * the work to do when it is readable. */
	int fd() const
	{
		return detail::check(vdds_pub_fd(pub_), "vdds_pub_fd");
	}
	void dispatch()
	{
		detail::check(vdds_pub_dispatch(pub_), "vdds_pub_dispatch");
	}

	struct vdds_pub_stats stats()
	{
		struct vdds_pub_stats st;

		detail::check(vdds_pub_stats(pub_, &st), "vdds_pub_stats");
		return st;
	}

	/* The C handle, for the C API (a waitset); still this object's. */
	vdds_pub *get() const noexcept
	{
		return pub_;
	}

      private:
	vdds_pub *pub_ = nullptr;
};

/* Subscribes to a topic published with T (vdds_sub_open). Move-only;
 * closed by its destructor, which releases what is still held: Samples must
 * not outlive it. */
template <class T> class Subscriber
{
      public:
	/* opts is copied: type_name and type_size are filled in as VDDS_TYPED
	 * does. Throws EPROTO, with the reason, for a publisher of another
	 * type; ENOENT when there is no publisher. */
	explicit Subscriber(const std::string &topic, const struct vdds_sub_opts &opts = {})
	{
		detail::check_type<T>();
		struct vdds_sub_opts o;
		int err = vdds__typed_sub_opts(&o, &opts, type_name<T>::value, sizeof(T));

		if (err < 0)
			detail::throw_error(err, "vdds_sub_open",
					    "type_size contradicts sizeof(T)");
		detail::check(vdds_sub_open(&sub_, topic.c_str(), &o), "vdds_sub_open");
	}
	Subscriber(Subscriber &&o) noexcept
	    : sub_(std::exchange(o.sub_, nullptr)), ended_(std::exchange(o.ended_, false))
	{
	}
	Subscriber &operator=(Subscriber &&o) noexcept
	{
		if (this != &o) {
			vdds_sub_close(sub_);
			sub_ = std::exchange(o.sub_, nullptr);
			ended_ = std::exchange(o.ended_, false);
		}
		return *this;
	}
	Subscriber(const Subscriber &) = delete;
	Subscriber &operator=(const Subscriber &) = delete;
	~Subscriber()
	{
		vdds_sub_close(sub_);
	}

	/* The next sample, or empty if none is waiting or none will come again
	 * (the publisher is gone and everything it sent was taken: ended()).
	 * Throws EBADMSG if the publisher cut us off, ENOBUFS while
	 * opts.max_held samples are held, EMSGSIZE for a sample that is not
	 * sizeof(T) bytes (it is released; take again). */
	std::optional<Sample<T>> try_take()
	{
		Sample<T> s;
		const void *data;
		int err = vdds__typed_take(sub_, &s.raw_, &data, sizeof(T));

		if (err == -EAGAIN || end(err))
			return std::nullopt;
		detail::check(err, "vdds_sub_take");
		s.sub_ = sub_;
		s.data_ = static_cast<const T *>(data);
		return std::optional<Sample<T>>(std::move(s));
	}

	/* The next sample, waiting as long as it takes. It has no empty
	 * answer, so the end is an error here: EPIPE once the publisher is gone
	 * and everything it sent was taken; otherwise it throws as try_take. */
	Sample<T> take()
	{
		for (;;) {
			if (auto s = try_take())
				return std::move(*s);
			if (!wait(-1) && ended_)
				detail::throw_error(-EPIPE, "vdds_sub_take");
		}
	}

	/* Wait until try_take has something (true), or timeout_ms passed or
	 * nothing more will come (false; ended() tells them apart; < 0 waits
	 * as long as it takes). Throws EBADMSG if the publisher cut us off,
	 * ENOBUFS while opts.max_held samples are held. */
	bool wait(int timeout_ms = -1)
	{
		int err = vdds_sub_wait(sub_, timeout_ms);

		if (err == -ETIMEDOUT || end(err))
			return false;
		detail::check(err, "vdds_sub_wait");
		return true;
	}

	/* True once the publisher is gone and everything it sent was taken
	 * (vdds_sub_take said -EPIPE): wait() and try_take() have nothing more
	 * to give. Never with opts.reconnect, which waits for the next one. */
	bool ended() const noexcept
	{
		return ended_;
	}

	/* The level-triggered fd for an event loop: readable exactly while
	 * try_take would give a sample, throw, or find the end (ended(); see
	 * vdds_sub_take). */
	int fd()
	{
		return detail::check(vdds_sub_fd(sub_), "vdds_sub_fd");
	}

	/* Taken, lost (DROP_OLDEST), held and queued samples; cheap. */
	struct vdds_sub_stats stats()
	{
		struct vdds_sub_stats st;

		detail::check(vdds_sub_stats(sub_, &st), "vdds_sub_stats");
		return st;
	}

	/* The C handle, for the C API (a waitset); still this object's. */
	vdds_sub *get() const noexcept
	{
		return sub_;
	}

      private:
	/* -EPIPE is the normal end of a subscription, not an error: note it */
	bool end(int err) noexcept
	{
		if (err == -EPIPE)
			ended_ = true;
		return err == -EPIPE;
	}

	vdds_sub *sub_ = nullptr;
	bool ended_ = false;
};

} // namespace vdds

#endif /* VDDS_HPP */
