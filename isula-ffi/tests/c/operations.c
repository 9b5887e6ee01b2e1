/*
 * operations: every libisula call beyond the basic lifecycle, on real containers:
 * run, pause/unpause, update, rename, restart, top, stats (one-shot and a stream stopped
 * midway), log follow (stopped midway, and ended by the container's exit), attach and a
 * streamed exec with stdin, close-stdin and resize, export and copy (tar files and callback
 * streams, one aborted midway), stat-path, record, health, networks, volumes, pods, login and
 * logout, config and runtime checks, and the engine closed while streams are open.
 *
 * usage: operations ARCHIVE DIR PAUSE_BINARY
 * Prints one line per step ("name: result"); a step that goes wrong prints "FAIL: ..." and the
 * program exits 1. Everything it makes is removed at the end.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isula.h>

static int failures;

static void fail(const char *what, isula_status st, char *err)
{
    printf("FAIL: %s: %s: %s\n", what, isula_status_name(st), err ? err : "(no message)");
    isula_string_free(err);
    failures++;
}

/* Run a call that must succeed; on failure report it and leave the function with 1. */
#define CALL(what, expr)                               \
    do {                                               \
        char *err = NULL;                              \
        isula_status st_ = (expr);                     \
        if (st_ != ISULA_OK) { fail(what, st_, err); return 1; } \
    } while (0)

/* A call whose status is printed ("what: status reason"); its message is dropped. */
static isula_status status_of(const char *what, isula_status st, char *err)
{
    const char *reason = isula_last_error_reason();
    printf("%s: %s%s%s\n", what, isula_status_name(st), reason ? " " : "", reason ? reason : "");
    isula_string_free(err);
    return st;
}
#define STATUS(what, expr) ({ char *err = NULL; isula_status s_ = (expr); status_of(what, s_, err); })

/* Print a JSON result under a name and free it. */
static void show(const char *what, char *json)
{
    printf("%s: %s\n", what, json);
    isula_string_free(json);
}

/* ------------------------------------------------------------------ callback sinks */

/* Output of an attach or exec stream, guarded by a mutex (the callback runs on a library thread). */
struct output {
    pthread_mutex_t lock;
    char out[4096], errs[4096];
    size_t nout, nerr;
    int calls;
};

static void on_output(int32_t fd, const uint8_t *data, size_t len, void *user)
{
    struct output *o = user;
    pthread_mutex_lock(&o->lock);
    char *buf = fd == 2 ? o->errs : o->out;
    size_t *n = fd == 2 ? &o->nerr : &o->nout;
    if (*n + len < sizeof o->out - 1) {
        memcpy(buf + *n, data, len);
        *n += len;
        buf[*n] = 0;
    }
    o->calls++;
    pthread_mutex_unlock(&o->lock);
}

/* Wait (up to 10 s) until the stdout of `o` contains `needle`. */
static int output_has(struct output *o, const char *needle)
{
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&o->lock);
        int found = strstr(o->out, needle) != NULL;
        pthread_mutex_unlock(&o->lock);
        if (found) return 1;
        usleep(10000);
    }
    return 0;
}

/* JSON records delivered by a stream: how many, and the last one. */
struct records {
    pthread_mutex_t lock;
    int count;
    char last[8192];
};

static void on_record(const char *json, void *user)
{
    struct records *r = user;
    pthread_mutex_lock(&r->lock);
    r->count++;
    snprintf(r->last, sizeof r->last, "%s", json);
    pthread_mutex_unlock(&r->lock);
}

static int record_count(struct records *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* Wait (up to `secs`) until `r` has at least `n` records. */
static int await_records(struct records *r, int n, int secs)
{
    for (int i = 0; i < secs * 100; i++) {
        if (record_count(r) >= n) return 1;
        usleep(10000);
    }
    return 0;
}

/* A growing byte buffer for tar streams. */
struct buffer {
    uint8_t *data;
    size_t len, pos, limit;
};

static int32_t buffer_write(const uint8_t *data, size_t len, void *user)
{
    struct buffer *b = user;
    if (b->limit && b->len + len > b->limit) return 7; /* abort midway */
    uint8_t *p = realloc(b->data, b->len + len);
    if (!p) return 1;
    memcpy(p + b->len, data, len);
    b->data = p;
    b->len += len;
    return 0;
}

static int64_t buffer_read(uint8_t *buf, size_t cap, void *user)
{
    struct buffer *b = user;
    size_t n = b->len - b->pos < cap ? b->len - b->pos : cap;
    memcpy(buf, b->data + b->pos, n);
    b->pos += n;
    return (int64_t)n;
}

/* ------------------------------------------------------------------ steps */

static int streams_and_lifecycle(isula_engine *e, const char *dir)
{
    char *json = NULL, *id = NULL;
    int32_t code = -1;
    CALL("run", isula_container_run(e,
        "{\"Image\":\"busybox:latest\",\"Name\":\"ffi-app\",\"Cmd\":[\"sh\",\"-c\","
        "\"i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done\"]}", &id, &err));
    printf("run: %s\n", id);

    /* log follow, stopped midway: no entry arrives after the close */
    struct records logs = { PTHREAD_MUTEX_INITIALIZER, 0, "" };
    isula_stream *s = NULL;
    CALL("logs follow", isula_container_logs_follow(e, id, NULL, on_record, &logs, &s, &err));
    if (!await_records(&logs, 3, 10)) { printf("FAIL: logs follow: %d entries\n", record_count(&logs)); return 1; }
    isula_stream_close(s);
    int after_close = record_count(&logs);
    usleep(600000);
    printf("logs follow stopped: %s (%d entries, last %s)\n",
           record_count(&logs) == after_close ? "ok" : "FAIL", after_close, logs.last);

    /* stats: one-shot, then a stream stopped after two samples */
    CALL("stats", isula_container_stats(e, id, &json, &err));
    show("stats", json);
    struct records stats = { PTHREAD_MUTEX_INITIALIZER, 0, "" };
    CALL("stats stream", isula_container_stats_stream(e, "ffi-app", on_record, &stats, &s, &err));
    if (!await_records(&stats, 2, 10)) { printf("FAIL: stats stream: %d samples\n", record_count(&stats)); return 1; }
    isula_stream_close(s);
    after_close = record_count(&stats);
    usleep(1500000);
    printf("stats stream stopped: %s (%d samples)\n", record_count(&stats) == after_close ? "ok" : "FAIL", after_close);
    STATUS("resize NULL stream", isula_stream_resize(NULL, 1, 1, &err));

    CALL("top", isula_container_top(e, id, NULL, &json, &err));
    show("top", json);
    CALL("top args", isula_container_top(e, id, "[\"-o\",\"pid,comm\"]", &json, &err));
    show("top args", json);

    CALL("pause", isula_container_pause(e, id, &err));
    CALL("inspect paused", isula_container_inspect(e, id, &json, &err));
    printf("paused: %s\n", strstr(json, "\"Paused\":true") ? "yes" : "no");
    isula_string_free(json);
    STATUS("pause again", isula_container_pause(e, id, &err));
    CALL("unpause", isula_container_unpause(e, id, &err));
    STATUS("unpause running", isula_container_unpause(e, id, &err));

    CALL("update", isula_container_update(e, id, "{\"Resources\":{\"PidsLimit\":99}}", &err));
    CALL("read pids.max", isula_container_exec(e, id,
        "{\"Cmd\":[\"sh\",\"-c\",\"cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max\"]}",
        &json, &err));
    printf("updated: %s\n", strstr(json, "\"Stdout\":\"99\\n\"") ? "yes" : json);
    isula_string_free(json);
    STATUS("update bad json", isula_container_update(e, id, "{\"Resources\":{\"PidsLimit\":\"many\"}}", &err));

    CALL("rename", isula_container_rename(e, "ffi-app", "ffi-app2", &err));
    STATUS("inspect old name", isula_container_inspect(e, "ffi-app", &json, &err));
    CALL("record", isula_container_record(e, "ffi-app2", &json, &err));
    printf("record named: %s\n", strstr(json, "ffi-app2") ? "yes" : "no");
    isula_string_free(json);
    CALL("health", isula_container_health(e, id, &json, &err));
    show("health", json);

    CALL("restart", isula_container_restart(e, id, 0, &err));
    CALL("inspect restarted", isula_container_inspect(e, id, &json, &err));
    printf("restarted running: %s\n", strstr(json, "\"Running\":true") ? "yes" : "no");
    isula_string_free(json);

    /* streamed exec with stdin: the process reads a line, answers, exits 4 */
    struct output ex = { PTHREAD_MUTEX_INITIALIZER, "", "", 0, 0, 0 };
    CALL("exec start", isula_container_exec_start(e, id,
        "{\"Cmd\":[\"sh\",\"-c\",\"read line; echo got:$line; echo to-stderr >&2; exit 4\"],\"AttachStdin\":true}",
        on_output, &ex, &s, &err));
    CALL("write stdin", isula_stream_write_stdin(s, (const uint8_t *)"hello\n", 6, &err));
    CALL("close stdin", isula_stream_close_stdin(s, &err));
    CALL("exec wait", isula_stream_wait(s, 20000, &code, &err));
    isula_stream_close(s);
    printf("exec stream: code %d stdout %s", code, ex.out);
    printf("exec stream stderr: %s", ex.errs);

    /* attach to a container with an open stdin: cat echoes, then ends with its input */
    char *cat = NULL;
    CALL("run cat", isula_container_run(e,
        "{\"Image\":\"busybox:latest\",\"Name\":\"ffi-cat\",\"Cmd\":[\"cat\"],\"OpenStdin\":true}", &cat, &err));
    struct output at = { PTHREAD_MUTEX_INITIALIZER, "", "", 0, 0, 0 };
    CALL("attach", isula_container_attach(e, cat, on_output, &at, &s, &err));
    CALL("attach write", isula_stream_write_stdin(s, (const uint8_t *)"ping\n", 5, &err));
    printf("attach echo: %s\n", output_has(&at, "ping\n") ? "ping" : "FAIL (nothing)");
    STATUS("attach resize", isula_stream_resize(s, 0, 80, &err));
    STATUS("attach wait 100ms", isula_stream_wait(s, 100, &code, &err));
    CALL("attach close stdin", isula_stream_close_stdin(s, &err));
    CALL("attach wait", isula_stream_wait(s, 20000, &code, &err));
    printf("attach exit: %d\n", code);
    isula_stream_close(s);
    CALL("wait cat", isula_container_wait(e, cat, &code, &err));
    CALL("remove cat", isula_container_remove(e, cat, NULL, &err));
    isula_string_free(cat);

    /* files: make one, copy it out (stream and file), back in (stream and file), export */
    CALL("exec mkfile", isula_container_exec(e, id, "{\"Cmd\":[\"sh\",\"-c\",\"echo payload > /data.txt; mkdir -p /in\"]}",
                                            &json, &err));
    isula_string_free(json);
    CALL("stat path", isula_container_stat_path(e, id, "/data.txt", &json, &err));
    show("stat path", json);
    STATUS("stat missing", isula_container_stat_path(e, id, "/no/such", &json, &err));
    struct buffer tar = { NULL, 0, 0, 0 };
    CALL("copy from stream", isula_container_copy_from_stream(e, id, "/data.txt", false, buffer_write, &tar, &json, &err));
    show("copy from stat", json);
    printf("copy from stream bytes: %zu\n", tar.len);
    CALL("copy to stream", isula_container_copy_to_stream(e, id, "/in", buffer_read, &tar, NULL, &err));
    free(tar.data);
    char path[4096];
    snprintf(path, sizeof path, "%s/data.tar", dir);
    CALL("copy from file", isula_container_copy_from(e, id, "/data.txt", true, path, NULL, &err));
    CALL("copy to file", isula_container_copy_to(e, id, "/tmp", path, "{\"Owner\":[1,2]}", &err));
    CALL("exec check", isula_container_exec(e, id,
        "{\"Cmd\":[\"sh\",\"-c\",\"cat /in/data.txt /tmp/data.txt; stat -c %u:%g /tmp/data.txt\"]}", &json, &err));
    show("copied back", json);
    STATUS("copy to missing dir", isula_container_copy_to(e, id, "/no/such/dir", path, NULL, &err));

    snprintf(path, sizeof path, "%s/export.tar", dir);
    CALL("export", isula_container_export(e, id, path, &err));
    struct stat st;
    printf("export file: %s\n", stat(path, &st) == 0 && st.st_size > 100000 ? "ok" : "FAIL (small or missing)");
    unlink(path);
    struct buffer exp = { NULL, 0, 0, 0 };
    CALL("export stream", isula_container_export_stream(e, id, buffer_write, &exp, &err));
    printf("export stream: %s\n", exp.len > 100000 ? "ok" : "FAIL (small)");
    free(exp.data);
    struct buffer cut = { NULL, 0, 0, 4096 };
    STATUS("export aborted", isula_container_export_stream(e, id, buffer_write, &cut, &err));
    free(cut.data);

    /* a log follow that ends by itself when the container stops */
    CALL("run short", isula_container_run(e,
        "{\"Image\":\"busybox:latest\",\"Name\":\"ffi-short\",\"Cmd\":[\"sh\",\"-c\",\"echo one; echo two; sleep 1; echo three\"]}",
        &json, &err));
    isula_string_free(json);
    struct records short_logs = { PTHREAD_MUTEX_INITIALIZER, 0, "" };
    CALL("short follow", isula_container_logs_follow(e, "ffi-short", "{\"Tail\":10}", on_record, &short_logs, &s, &err));
    CALL("short follow wait", isula_stream_wait(s, 20000, &code, &err));
    printf("follow to the end: %d entries, last %s\n", record_count(&short_logs), short_logs.last);
    isula_stream_close(s);
    CALL("remove short", isula_container_remove(e, "ffi-short", NULL, &err));

    isula_string_free(id);
    return 0;
}

static int networks_and_volumes(isula_engine *e)
{
    char *json = NULL;
    CALL("network create", isula_network_create(e, "{\"Name\":\"ffi-net\",\"Labels\":{\"t\":\"ffi\"}}", &json, &err));
    show("network create", json);
    STATUS("network create again", isula_network_create(e, "{\"Name\":\"ffi-net\"}", &json, &err));
    CALL("network list", isula_network_list(e, "{\"Label\":[\"t=ffi\"]}", &json, &err));
    show("network list", json);
    CALL("network inspect", isula_network_inspect(e, "ffi-net", &json, &err));
    show("network inspect", json);
    CALL("network remove", isula_network_remove(e, "ffi-net", &err));
    STATUS("network inspect removed", isula_network_inspect(e, "ffi-net", &json, &err));

    CALL("volume create", isula_volume_create(e, "{\"Name\":\"ffi-vol\",\"Labels\":{\"t\":\"ffi\"}}", &json, &err));
    show("volume create", json);
    CALL("volume list", isula_volume_list(e, "[\"label=t=ffi\"]", &json, &err));
    show("volume list", json);
    CALL("volume inspect", isula_volume_inspect(e, "ffi-vol", &json, &err));
    isula_string_free(json);
    CALL("volume prune", isula_volume_prune(e, "[\"label=t=ffi\"]", &json, &err));
    show("volume prune", json);
    STATUS("volume inspect pruned", isula_volume_inspect(e, "ffi-vol", &json, &err));
    CALL("volume create anon", isula_volume_create(e, NULL, &json, &err));
    isula_string_free(json);
    CALL("volume create 2", isula_volume_create(e, "{\"Name\":\"ffi-vol2\"}", &json, &err));
    isula_string_free(json);
    CALL("volume remove", isula_volume_remove(e, "ffi-vol2", false, &err));
    STATUS("volume remove missing", isula_volume_remove(e, "ffi-vol2", false, &err));
    STATUS("volume remove missing forced", isula_volume_remove(e, "ffi-vol2", true, &err));
    CALL("volume prune all", isula_volume_prune(e, NULL, &json, &err));
    isula_string_free(json);
    STATUS("volume list bad", isula_volume_list(e, "{\"not\":\"an array\"}", &json, &err));
    return 0;
}

static int pods(isula_engine *e)
{
    char *json = NULL, *pod = NULL;
    CALL("pod run", isula_pod_run(e, "{\"Name\":\"ffi-pod\",\"Namespace\":\"default\",\"Uid\":\"u-ffi\",\"Hostname\":\"ffipod\"}",
                                  &pod, &err));
    printf("pod run: %s\n", pod);
    STATUS("pod run again", isula_pod_run(e, "{\"Name\":\"ffi-pod\",\"Namespace\":\"default\",\"Uid\":\"u-ffi\"}", &json, &err));
    CALL("pod inspect", isula_pod_inspect(e, pod, &json, &err));
    show("pod inspect", json);
    CALL("pod list", isula_pod_list(e, &json, &err));
    show("pod list", json);
    CALL("pod stats", isula_pod_stats(e, pod, &json, &err));
    show("pod stats", json);
    int fd = 0;
    STATUS("pod connect closed port", isula_pod_connect(e, pod, 1, &fd, &err));
    printf("pod connect fd: %d\n", fd);
    CALL("pod stop", isula_pod_stop(e, pod, &err));
    CALL("pod remove", isula_pod_remove(e, pod, &err));
    STATUS("pod inspect removed", isula_pod_inspect(e, pod, &json, &err));
    isula_string_free(pod);
    return 0;
}

static int engine_calls(isula_engine *e)
{
    char *json = NULL;
    CALL("config", isula_engine_config(e, &json, &err));
    show("config", json);
    CALL("check runc", isula_engine_check_runtime(e, "runc", &err));
    STATUS("check no runtime", isula_engine_check_runtime(e, "no-such-runtime", &err));
    STATUS("login unreachable", isula_login(e, "127.0.0.1:1", "u", "p", &err));
    STATUS("logout never logged in", isula_logout(e, "127.0.0.1:1", &err));
    STATUS("push unknown image", isula_image_push(e, "127.0.0.1:1/none/such:1", NULL, NULL, &json, &err));
    return 0;
}

/* A call that must succeed before the engine is closed: on failure close it and leave with 1. */
#define CALL_OR_CLOSE(what, expr)                      \
    do {                                               \
        char *err = NULL;                              \
        isula_status st_ = (expr);                     \
        if (st_ != ISULA_OK) { fail(what, st_, err); isula_stream_close(s1); isula_stream_close(s2); \
                               isula_stream_close(s3); isula_engine_close(e); return 1; } \
    } while (0)

/* Close the engine while three streams are open; they end as cancelled and no callback runs
   after. Always closes `e`. */
static int close_with_open_streams(isula_engine *e)
{
    struct records logs = { PTHREAD_MUTEX_INITIALIZER, 0, "" }, stats = { PTHREAD_MUTEX_INITIALIZER, 0, "" };
    struct output ex = { PTHREAD_MUTEX_INITIALIZER, "", "", 0, 0, 0 };
    isula_stream *s1 = NULL, *s2 = NULL, *s3 = NULL;
    CALL_OR_CLOSE("open follow", isula_container_logs_follow(e, "ffi-app2", "{\"Tail\":1}", on_record, &logs, &s1, &err));
    CALL_OR_CLOSE("open stats", isula_container_stats_stream(e, "ffi-app2", on_record, &stats, &s2, &err));
    CALL_OR_CLOSE("open exec", isula_container_exec_start(e, "ffi-app2",
        "{\"Cmd\":[\"sh\",\"-c\",\"echo started; exec sleep 30\"]}", on_output, &ex, &s3, &err));
    if (!await_records(&logs, 1, 10) || !output_has(&ex, "started")) {
        printf("FAIL: streams did not start\n");
        failures++;
    }
    isula_engine_close(e);
    int n1 = record_count(&logs), n2 = record_count(&stats);
    usleep(1500000);
    printf("closed engine, callbacks after: %s\n",
           record_count(&logs) == n1 && record_count(&stats) == n2 ? "none" : "FAIL (some)");
    STATUS("follow after close", isula_stream_wait(s1, 0, NULL, &err));
    int32_t code = 0;
    STATUS("stats after close", isula_stream_wait(s2, 1000, &code, &err));
    STATUS("exec after close", isula_stream_wait(s3, -1, &code, &err));
    STATUS("write after close", isula_stream_write_stdin(s3, (const uint8_t *)"x", 1, &err));
    isula_stream_close(s1);
    isula_stream_close(s2);
    isula_stream_close(s3);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ARCHIVE DIR PAUSE_BINARY\n", argv[0]);
        return 2;
    }
    char config[8192], cni[4096];
    snprintf(cni, sizeof cni, "%s/cni", argv[2]);
    mkdir(cni, 0700);
    /* No default bridge network, CNI configs in the test dir: nothing on the host is touched. */
    snprintf(config, sizeof config,
             "{\"graph\": \"%s/root\", \"state\": \"%s/state\", \"bridge\": \"none\", \"cni-conf-dir\": \"%s\","
             " \"pause-path\": \"%s\"}", argv[2], argv[2], cni, argv[3]);
    isula_engine *e = NULL;
    char *err = NULL, *json = NULL;
    isula_status st = isula_engine_open(config, &e, &err);
    if (st != ISULA_OK) { fail("open", st, err); return 1; }
    st = isula_image_load(e, argv[1], NULL, &json, &err);
    if (st != ISULA_OK) { fail("load", st, err); isula_engine_close(e); return 1; }
    isula_string_free(json);

    int bad = streams_and_lifecycle(e, argv[2]) || networks_and_volumes(e) || pods(e) || engine_calls(e);
    if (!bad) {
        bad = close_with_open_streams(e);
    } else {
        isula_engine_close(e);
    }

    /* the root is free again (the closed engine let go of it): clean up everything */
    e = NULL;
    st = isula_engine_open(config, &e, &err);
    status_of("reopen", st, err);
    if (st != ISULA_OK) return 1;
    err = NULL;
    st = isula_container_list(e, "{\"All\":true}", &json, &err);
    if (st == ISULA_OK) {
        printf("left: %s\n", strstr(json, "ffi-app2") ? "ffi-app2" : "nothing");
        isula_string_free(json);
    } else {
        fail("list", st, err);
    }
    err = NULL;
    isula_container_remove(e, "ffi-app2", "{\"Force\":true}", &err);
    isula_string_free(err);
    err = NULL;
    isula_container_remove(e, "ffi-cat", "{\"Force\":true}", &err);
    isula_string_free(err);
    err = NULL;
    isula_container_remove(e, "ffi-short", "{\"Force\":true}", &err);
    isula_string_free(err);
    err = NULL;
    st = isula_container_list(e, "{\"All\":true}", &json, &err);
    if (st == ISULA_OK) {
        printf("list all: %s\n", json);
        isula_string_free(json);
    }
    isula_engine_close(e);
    printf("%d failure(s)\n", failures + bad);
    return bad || failures ? 1 : 0;
}
