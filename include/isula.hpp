// isula.hpp: a header-only C++17 wrapper over libisula's C API (isula.h).
//
// - isula::Engine, isula::Stream, isula::Subscription: RAII handles (move-only; the
//   destructor closes them).
// - Every failed call throws isula::Error, carrying the isula_status, the message and the
//   reason (isula_last_error_reason) of the C call.
// - Strings go in as std::string and come out as std::string (JSON text where the C API
//   returns JSON; parse it with the JSON library of your choice).
// - Callbacks are std::function; they must not throw (libisula's callbacks must not unwind):
//   an exception escaping one terminates the program. Stream callbacks run on a library thread.
//
// Link with -lisula (see `pkg-config --cflags --libs isula`).
#ifndef ISULA_HPP
#define ISULA_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "isula.h"

namespace isula {

/// A failed libisula call.
class Error : public std::runtime_error {
public:
    Error(isula_status status, const std::string &message, const char *reason)
        : std::runtime_error(message), status_(status), reason_(reason ? reason : "")
    {
    }
    /// The status of the call (never ISULA_OK).
    isula_status status() const noexcept { return status_; }
    /// Its lower-case name ("not_found", ...).
    const char *status_name() const noexcept { return isula_status_name(static_cast<int32_t>(status_)); }
    /// The machine-readable reason ("no_such_container", ...), or "" when it has none.
    const std::string &reason() const noexcept { return reason_; }

private:
    isula_status status_;
    std::string reason_;
};

namespace detail {

/// Take ownership of a string from libisula.
inline std::string take(char *s)
{
    std::string out = s ? s : "";
    isula_string_free(s);
    return out;
}

/// Throw for a failed status (taking `err`).
inline void check(isula_status st, char *err)
{
    if (st != ISULA_OK) {
        const char *reason = isula_last_error_reason();
        std::string r = reason ? reason : "";
        throw Error(st, take(err), r.empty() ? nullptr : r.c_str());
    }
}

/// NULL for an empty string (optional JSON arguments).
inline const char *opt(const std::string &s) { return s.empty() ? nullptr : s.c_str(); }

using Json = std::function<void(const std::string &)>;
using Output = std::function<void(int fd, const std::string &data)>;

inline void json_trampoline(const char *json, void *user) { (*static_cast<Json *>(user))(json); }

inline void output_trampoline(int32_t fd, const uint8_t *data, size_t len, void *user)
{
    (*static_cast<Output *>(user))(fd, std::string(reinterpret_cast<const char *>(data), len));
}

}  // namespace detail

/// A running stream (attach, exec, stats, log follow); closing it stops the callback.
class Stream {
public:
    Stream() = default;
    Stream(Stream &&o) noexcept : s_(std::exchange(o.s_, nullptr)), json_(std::move(o.json_)), out_(std::move(o.out_)) {}
    Stream &operator=(Stream &&o) noexcept
    {
        if (this != &o) {
            close();
            s_ = std::exchange(o.s_, nullptr);
            json_ = std::move(o.json_);
            out_ = std::move(o.out_);
        }
        return *this;
    }
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;
    ~Stream() { close(); }

    /// Write to the process' stdin.
    void write_stdin(const std::string &data)
    {
        char *err = nullptr;
        detail::check(isula_stream_write_stdin(s_, reinterpret_cast<const uint8_t *>(data.data()), data.size(), &err), err);
    }
    /// Close the process' stdin.
    void close_stdin()
    {
        char *err = nullptr;
        detail::check(isula_stream_close_stdin(s_, &err), err);
    }
    /// Set the TTY size.
    void resize(uint16_t rows, uint16_t cols)
    {
        char *err = nullptr;
        detail::check(isula_stream_resize(s_, rows, cols, &err), err);
    }
    /// Wait for the end (timeout_ms < 0: forever); the exit code (attach, exec) or 0.
    int wait(int64_t timeout_ms = -1)
    {
        char *err = nullptr;
        int32_t code = -1;
        detail::check(isula_stream_wait(s_, timeout_ms, &code, &err), err);
        return code;
    }
    /// Stop the stream now (also done by the destructor).
    void close() noexcept
    {
        isula_stream_close(s_);
        s_ = nullptr;
    }

private:
    friend class Engine;
    isula_stream *s_ = nullptr;
    // The callbacks live on the heap so their address stays put when the Stream moves.
    std::unique_ptr<detail::Json> json_;
    std::unique_ptr<detail::Output> out_;
};

/// An open engine (isula_engine_open / isula_engine_close).
class Engine {
public:
    /// Open an engine; `config_json` is daemon.json text ("{}" for the defaults).
    explicit Engine(const std::string &config_json = "{}")
    {
        char *err = nullptr;
        detail::check(isula_engine_open(config_json.c_str(), &e_, &err), err);
    }
    Engine(Engine &&o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
    Engine &operator=(Engine &&o) noexcept
    {
        if (this != &o) {
            close();
            e_ = std::exchange(o.e_, nullptr);
        }
        return *this;
    }
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;
    ~Engine() { close(); }

    /// Close now (streams still open are stopped); also done by the destructor.
    void close() noexcept
    {
        isula_engine_close(e_);
        e_ = nullptr;
    }
    /// The C handle, for calls this wrapper does not cover.
    isula_engine *get() const noexcept { return e_; }

    std::string info() const { return out([&](char **o, char **err) { return isula_info(e_, o, err); }); }

    // images
    std::string load_image(const std::string &archive, const std::string &options_json = "") const
    {
        return out([&](char **o, char **err) { return isula_image_load(e_, archive.c_str(), detail::opt(options_json), o, err); });
    }
    std::string list_images(const std::string &options_json = "") const
    {
        return out([&](char **o, char **err) { return isula_image_list(e_, detail::opt(options_json), o, err); });
    }
    std::string inspect_image(const std::string &name) const
    {
        return out([&](char **o, char **err) { return isula_image_inspect(e_, name.c_str(), o, err); });
    }
    std::string remove_image(const std::string &name, const std::string &options_json = "") const
    {
        return out([&](char **o, char **err) { return isula_image_remove(e_, name.c_str(), detail::opt(options_json), o, err); });
    }

    // containers
    std::string create(const std::string &options_json) const
    {
        return out([&](char **o, char **err) { return isula_container_create(e_, options_json.c_str(), o, err); });
    }
    std::string run(const std::string &options_json) const
    {
        return out([&](char **o, char **err) { return isula_container_run(e_, options_json.c_str(), o, err); });
    }
    void start(const std::string &id) const { call([&](char **err) { return isula_container_start(e_, id.c_str(), err); }); }
    void stop(const std::string &id, int timeout_secs = -1) const
    {
        call([&](char **err) { return isula_container_stop(e_, id.c_str(), timeout_secs, err); });
    }
    void pause(const std::string &id) const { call([&](char **err) { return isula_container_pause(e_, id.c_str(), err); }); }
    void unpause(const std::string &id) const { call([&](char **err) { return isula_container_unpause(e_, id.c_str(), err); }); }
    void remove(const std::string &id, const std::string &options_json = "") const
    {
        call([&](char **err) { return isula_container_remove(e_, id.c_str(), detail::opt(options_json), err); });
    }
    int wait(const std::string &id) const
    {
        int32_t code = -1;
        call([&](char **err) { return isula_container_wait(e_, id.c_str(), &code, err); });
        return code;
    }
    std::string inspect(const std::string &id) const
    {
        return out([&](char **o, char **err) { return isula_container_inspect(e_, id.c_str(), o, err); });
    }
    std::string list(const std::string &options_json = "") const
    {
        return out([&](char **o, char **err) { return isula_container_list(e_, detail::opt(options_json), o, err); });
    }
    std::string exec(const std::string &id, const std::string &options_json) const
    {
        return out([&](char **o, char **err) { return isula_container_exec(e_, id.c_str(), options_json.c_str(), o, err); });
    }
    std::string stats(const std::string &id) const
    {
        return out([&](char **o, char **err) { return isula_container_stats(e_, id.c_str(), o, err); });
    }

    // streams
    /// Streamed exec: `output(fd, bytes)` on a library thread.
    Stream exec_start(const std::string &id, const std::string &options_json, detail::Output output) const
    {
        Stream s;
        s.out_ = std::make_unique<detail::Output>(std::move(output));
        call([&](char **err) {
            return isula_container_exec_start(e_, id.c_str(), options_json.c_str(), detail::output_trampoline, s.out_.get(),
                                              &s.s_, err);
        });
        return s;
    }
    /// Attach to a running container: `output(fd, bytes)` on a library thread.
    Stream attach(const std::string &id, detail::Output output) const
    {
        Stream s;
        s.out_ = std::make_unique<detail::Output>(std::move(output));
        call([&](char **err) { return isula_container_attach(e_, id.c_str(), detail::output_trampoline, s.out_.get(), &s.s_, err); });
        return s;
    }
    /// Follow a container's log: each entry as JSON on a library thread.
    Stream logs_follow(const std::string &id, detail::Json entry, const std::string &options_json = "") const
    {
        Stream s;
        s.json_ = std::make_unique<detail::Json>(std::move(entry));
        call([&](char **err) {
            return isula_container_logs_follow(e_, id.c_str(), detail::opt(options_json), detail::json_trampoline, s.json_.get(),
                                               &s.s_, err);
        });
        return s;
    }
    /// Stream resource usage samples as JSON on a library thread.
    Stream stats_stream(const std::string &id, detail::Json sample) const
    {
        Stream s;
        s.json_ = std::make_unique<detail::Json>(std::move(sample));
        call([&](char **err) {
            return isula_container_stats_stream(e_, id.c_str(), detail::json_trampoline, s.json_.get(), &s.s_, err);
        });
        return s;
    }

    // volumes and networks
    std::string create_volume(const std::string &options_json = "") const
    {
        return out([&](char **o, char **err) { return isula_volume_create(e_, detail::opt(options_json), o, err); });
    }
    void remove_volume(const std::string &name, bool force = false) const
    {
        call([&](char **err) { return isula_volume_remove(e_, name.c_str(), force, err); });
    }
    std::string create_network(const std::string &options_json) const
    {
        return out([&](char **o, char **err) { return isula_network_create(e_, options_json.c_str(), o, err); });
    }
    void remove_network(const std::string &name) const
    {
        call([&](char **err) { return isula_network_remove(e_, name.c_str(), err); });
    }

private:
    template <typename F> static void call(F f)
    {
        char *err = nullptr;
        isula_status st = f(&err);
        detail::check(st, err);
    }
    template <typename F> static std::string out(F f)
    {
        char *err = nullptr, *o = nullptr;
        isula_status st = f(&o, &err);
        detail::check(st, err);
        return detail::take(o);
    }

    isula_engine *e_ = nullptr;
};

}  // namespace isula

#endif  // ISULA_HPP
