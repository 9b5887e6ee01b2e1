// run_container: the C++ wrapper (isula.hpp) end to end: load an image, run a container,
// follow its log through a callback and stop following midway, a streamed exec with stdin,
// then remove everything. Errors are exceptions.
//
// usage: run_container ARCHIVE DIR   (the engine's root and state go under DIR)
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <isula.hpp>

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " ARCHIVE DIR\n";
        return 2;
    }
    const std::string dir = argv[2];
    try {
        isula::Engine engine("{\"graph\":\"" + dir + "/root\",\"state\":\"" + dir + "/state\",\"bridge\":\"none\"}");
        std::cout << "loaded: " << engine.load_image(argv[1]) << "\n";
        std::string id = engine.run(
            "{\"Image\":\"busybox:latest\",\"Name\":\"cpp-demo\",\"Cmd\":[\"sh\",\"-c\","
            "\"while true; do echo tick; sleep 0.2; done\"]}");
        std::cout << "running: " << id << "\n";

        // Follow the log until three entries came, then stop following.
        std::atomic<int> entries{0};
        {
            isula::Stream follow = engine.logs_follow(id, [&](const std::string &) { entries++; });
            for (int i = 0; i < 500 && entries < 3; i++) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }  // the destructor stops the stream: no callback after this point
        int seen = entries;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        std::cout << "log entries: " << (seen >= 3 ? "3+" : "too few") << ", after stop: "
                  << (entries == seen ? "none" : "some") << "\n";

        // A streamed exec: stdin in, stdout out, the exit code from wait().
        std::mutex m;
        std::string output;
        isula::Stream ex = engine.exec_start(id, "{\"Cmd\":[\"sh\",\"-c\",\"read x; echo hi $x; exit 5\"],\"AttachStdin\":true}",
                                             [&](int, const std::string &data) {
                                                 std::lock_guard<std::mutex> g(m);
                                                 output += data;
                                             });
        ex.write_stdin("cpp\n");
        ex.close_stdin();
        int code = ex.wait(20000);
        {
            std::lock_guard<std::mutex> g(m);
            std::cout << "exec: " << code << " " << output;
        }

        try {
            engine.inspect("no-such-container");
        } catch (const isula::Error &e) {
            std::cout << "error: " << e.status_name() << " " << e.reason() << "\n";
        }
        engine.remove(id, "{\"Force\":true}");
        std::cout << "left: " << engine.list("{\"All\":true}") << "\n";
    } catch (const isula::Error &e) {
        std::cerr << "isula error (" << e.status_name() << "): " << e.what() << "\n";
        return 1;
    }
    return 0;
}
