/*
 * bad_input: every misuse of the C API gets a status and a message, never a crash.
 * Prints "ok: <case>" per passed check and "FAIL: <case>: ..." per failed one; exits 1 when any
 * check failed.
 *
 * usage: bad_input DIR NOT_AN_ARCHIVE   (DIR: an empty directory for an engine root)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isula.h>

static int failures;

/* Check one call's status and that its message contains `needle` (NULL: any message). */
static void expect(const char *what, isula_status got, isula_status want, char *err, const char *needle)
{
    int ok = got == want;
    if (ok && want != ISULA_OK) ok = err != NULL && err[0] != '\0' && (!needle || strstr(err, needle));
    if (ok && want == ISULA_OK) ok = err == NULL;
    if (ok) {
        printf("ok: %s: %s: %s\n", what, isula_status_name(got), err ? err : "");
    } else {
        printf("FAIL: %s: got %s, want %s (containing \"%s\"): %s\n", what, isula_status_name(got),
               isula_status_name(want), needle ? needle : "", err ? err : "(no message)");
        failures++;
    }
    isula_string_free(err);
}

static void check(const char *what, int cond)
{
    if (cond) printf("ok: %s\n", what);
    else { printf("FAIL: %s\n", what); failures++; }
}

/* Check the reason of the last failed call on this thread (NULL: none). */
static void expect_reason(const char *what, const char *want)
{
    const char *got = isula_last_error_reason();
    int ok = want ? (got && strcmp(got, want) == 0) : got == NULL;
    if (ok) printf("ok: %s: reason %s\n", what, got ? got : "(none)");
    else { printf("FAIL: %s: reason %s, want %s\n", what, got ? got : "(none)", want ? want : "(none)"); failures++; }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIR NOT_AN_ARCHIVE\n", argv[0]);
        return 2;
    }
    char *err = (char *)"garbage", *out = (char *)"garbage";
    isula_engine *e = (isula_engine *)&failures; /* garbage: must be overwritten */
    isula_status st;

    /* no-ops on NULL */
    isula_engine_close(NULL);
    isula_string_free(NULL);
    isula_subscription_close(NULL);
    check("close(NULL), string_free(NULL), subscription_close(NULL) are no-ops", 1);
    check("status names", strcmp(isula_status_name(ISULA_INVALID_ARGUMENT), "invalid_argument") == 0 &&
                              strcmp(isula_status_name(99), "unknown") == 0 &&
                              strcmp(isula_status_name(-1), "unknown") == 0);

    /* engine_open: NULL pointers, bad JSON, bad UTF-8, wrong types */
    st = isula_engine_open(NULL, &e, &err);
    expect("open(NULL config)", st, ISULA_INVALID_ARGUMENT, err, "config_json");
    check("open(NULL config) sets *out to NULL", e == NULL);
    st = isula_engine_open("{}", NULL, &err);
    expect("open(out NULL)", st, ISULA_INVALID_ARGUMENT, err, "out");
    st = isula_engine_open(NULL, &e, NULL);
    check("open with err NULL still returns a status", st == ISULA_INVALID_ARGUMENT && e == NULL);
    st = isula_engine_open("{\"graph\": ", &e, &err);
    expect("open(malformed JSON)", st, ISULA_INVALID_ARGUMENT, err, "JSON");
    st = isula_engine_open("[1, 2]", &e, &err);
    expect("open(JSON array)", st, ISULA_INVALID_ARGUMENT, err, "object");
    st = isula_engine_open("{\"graph\": 5}", &e, &err);
    expect("open(graph is a number)", st, ISULA_INVALID_ARGUMENT, err, "graph");
    st = isula_engine_open("{\"max-concurrent-downloads\": \"three\"}", &e, &err);
    expect("open(max-concurrent-downloads is a string)", st, ISULA_INVALID_ARGUMENT, err, "max-concurrent-downloads");
    st = isula_engine_open("{\"registry-mirrors\": {\"a\": 1}}", &e, &err);
    expect("open(registry-mirrors is an object)", st, ISULA_INVALID_ARGUMENT, err, "registry-mirrors");
    st = isula_engine_open("{\"graph\": \"relative/root\"}", &e, &err);
    expect("open(relative graph)", st, ISULA_INVALID_ARGUMENT, err, "graph");
    st = isula_engine_open("{\"graph\": \"/tmp/\xff\xfe\"}", &e, &err);
    expect("open(invalid UTF-8)", st, ISULA_INVALID_ARGUMENT, err, "UTF-8");
    check("failed opens leave *out NULL", e == NULL);

    /* a real engine for the rest */
    char config[4096];
    snprintf(config, sizeof config, "{\"graph\": \"%s/root\", \"state\": \"%s/state\"}", argv[1], argv[1]);
    err = NULL;
    st = isula_engine_open(config, &e, &err);
    expect("open(valid config)", st, ISULA_OK, err, NULL);
    if (st != ISULA_OK) return 1;

    isula_engine *second = NULL;
    st = isula_engine_open(config, &second, &err);
    expect("second open of the same root", st, ISULA_UNAVAILABLE, err, "root");
    check("second open leaves *out NULL", second == NULL);

    /* images: NULL handle / args / outputs */
    st = isula_image_list(NULL, NULL, &out, &err);
    expect("list(NULL engine)", st, ISULA_INVALID_ARGUMENT, err, "engine");
    check("list(NULL engine) sets *out_json to NULL", out == NULL);
    st = isula_image_list(e, NULL, NULL, &err);
    expect("list(out NULL)", st, ISULA_INVALID_ARGUMENT, err, "out_json");
    st = isula_image_list(e, "{\"Filters\": ", &out, &err);
    expect("list(malformed JSON)", st, ISULA_INVALID_ARGUMENT, err, "options_json");
    st = isula_image_list(e, "{\"Filters\": 3}", &out, &err);
    expect("list(filters is a number)", st, ISULA_INVALID_ARGUMENT, err, "options_json");
    st = isula_image_list(e, "{\"All\": \"yes\"}", &out, &err);
    expect("list(all is a string)", st, ISULA_INVALID_ARGUMENT, err, "options_json");
    st = isula_image_list(e, "{\"Filters\": [\"\xff=1\"]}", &out, &err);
    expect("list(invalid UTF-8 JSON)", st, ISULA_INVALID_ARGUMENT, err, "UTF-8");
    st = isula_image_list(e, "{\"Filters\": [\"colour=red\"]}", &out, &err);
    expect("list(unknown filter)", st, ISULA_INVALID_ARGUMENT, err, "colour");

    st = isula_image_inspect(e, NULL, &out, &err);
    expect("inspect(NULL name)", st, ISULA_INVALID_ARGUMENT, err, "name");
    st = isula_image_inspect(e, "busy\xff", &out, &err);
    expect("inspect(invalid UTF-8 name)", st, ISULA_INVALID_ARGUMENT, err, "UTF-8");
    st = isula_image_inspect(e, "no-such-image:1", &out, &err);
    expect_reason("inspect(missing image)", "no_such_image");
    expect("inspect(missing image)", st, ISULA_NOT_FOUND, err, "no-such-image");
    check("inspect failure sets *out_json to NULL", out == NULL);

    st = isula_image_load(e, NULL, NULL, &out, &err);
    expect("load(NULL path)", st, ISULA_INVALID_ARGUMENT, err, "archive_path");
    st = isula_image_load(e, "", NULL, &out, &err);
    expect("load(empty path)", st, ISULA_INVALID_ARGUMENT, err, "archive_path");
    st = isula_image_load(e, "/nonexistent/isula/archive.tar", NULL, &out, &err);
    expect("load(missing file)", st, ISULA_NOT_FOUND, err, "/nonexistent/isula/archive.tar");
    st = isula_image_load(e, argv[2], NULL, &out, &err);
    check("load(not an archive) fails", st != ISULA_OK && err != NULL && out == NULL);
    printf("   load(not an archive): %s: %s\n", isula_status_name(st), err ? err : "");
    isula_string_free(err);
    st = isula_image_load(e, argv[2], "{\"Tag\": 7}", &out, &err);
    expect("load(tag is a number)", st, ISULA_INVALID_ARGUMENT, err, "options_json");

    st = isula_image_tag(e, "busybox", NULL, &err);
    expect("tag(NULL target)", st, ISULA_INVALID_ARGUMENT, err, "target");
    st = isula_image_tag(e, "no-such-image", "x:1", &err);
    expect("tag(missing source)", st, ISULA_NOT_FOUND, err, "no-such-image");
    st = isula_image_remove(e, "no-such-image", NULL, NULL, &err);
    expect("remove(missing image)", st, ISULA_NOT_FOUND, err, "no-such-image");
    st = isula_image_remove(e, "x", "{\"Force\": 1}", NULL, &err);
    expect("remove(force is a number)", st, ISULA_INVALID_ARGUMENT, err, "options_json");
    st = isula_image_save(e, "\"busybox\"", "/tmp/never-written.tar", &err);
    expect("save(names not an array)", st, ISULA_INVALID_ARGUMENT, err, "names_json");
    st = isula_image_import(e, "/nonexistent/rootfs.tar", NULL, &out, &err);
    expect("import(missing file)", st, ISULA_NOT_FOUND, err, "/nonexistent/rootfs.tar");

    st = isula_image_pull(e, NULL, NULL, NULL, NULL, &out, &err);
    expect("pull(NULL reference)", st, ISULA_INVALID_ARGUMENT, err, "reference");

    /* containers and events: argument checks come first */
    st = isula_container_start(e, NULL, &err);
    expect("container_start(NULL id)", st, ISULA_INVALID_ARGUMENT, err, "id");
    st = isula_container_create(e, "{\"image\": ", &out, &err);
    expect("container_create(malformed JSON)", st, ISULA_INVALID_ARGUMENT, err, "options_json");
    st = isula_container_wait(e, "x", NULL, &err);
    expect("container_wait(exit_code NULL)", st, ISULA_INVALID_ARGUMENT, err, "exit_code");
    st = isula_container_start(e, "no-such-container", &err);
    expect_reason("container_start(missing)", "no_such_container");
    expect("container_start(missing)", st, ISULA_NOT_FOUND, err, "no-such-container");
    st = isula_container_create(e, "{\"Image\": \"no-such-image:1\"}", &out, &err);
    expect_reason("container_create(missing image)", "no_such_image");
    expect("container_create(missing image)", st, ISULA_NOT_FOUND, err, "no-such-image");
    st = isula_container_create(e, "{\"Image\": 5}", &out, &err);
    expect("container_create(Image is a number)", st, ISULA_INVALID_ARGUMENT, err, "options_json");
    st = isula_container_exec(e, "x", "{\"Cmd\": [\"true\"], \"Detach\": true}", &out, &err);
    expect("container_exec(Detach)", st, ISULA_INVALID_ARGUMENT, err, "Detach");
    st = isula_container_logs(e, "x", "{\"Since\": -1}", &out, &err);
    expect("container_logs(negative Since)", st, ISULA_INVALID_ARGUMENT, err, "Since");
    st = isula_container_list(e, "{\"All\": \"yes\"}", &out, &err);
    expect("container_list(All is a string)", st, ISULA_INVALID_ARGUMENT, err, "options_json");
    st = isula_container_kill(e, "no-such-container", "\xff", &err);
    expect("container_kill(invalid UTF-8 signal)", st, ISULA_INVALID_ARGUMENT, err, "UTF-8");
    isula_subscription *sub = NULL;
    st = isula_events_subscribe(e, "{\"type\": 3}", NULL, NULL, &sub, &err);
    expect("events_subscribe(NULL callback)", st, ISULA_INVALID_ARGUMENT, err, "callback");
    st = isula_events_subscribe(e, NULL, NULL, NULL, &sub, &err);
    expect("events_subscribe(NULL callback)", st, ISULA_INVALID_ARGUMENT, err, "callback");
    check("failed subscribe leaves *out NULL", sub == NULL);

    /* nothing was created by all of the above */
    err = NULL;
    st = isula_image_list(e, NULL, &out, &err);
    expect_reason("a successful call clears the reason", NULL);
    expect("list after bad input", st, ISULA_OK, err, NULL);
    check("no image was created by bad input", out != NULL && strcmp(out, "[]") == 0);
    isula_string_free(out);

    /* info: counters of the empty engine, Docker's keys */
    st = isula_info(e, &out, &err);
    expect("info", st, ISULA_OK, err, NULL);
    check("info has Docker's keys and no images",
          out != NULL && strstr(out, "\"Images\":0") && strstr(out, "\"ContainersRunning\":0") && strstr(out, "\"NCPU\":"));
    isula_string_free(out);
    st = isula_info(NULL, &out, &err);
    expect("info(NULL engine)", st, ISULA_INVALID_ARGUMENT, err, "engine");
    expect_reason("info(NULL engine)", NULL);

    isula_engine_close(e);
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
