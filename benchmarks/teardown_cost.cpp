// The executor thread's teardown of an unpacked constant tensor, measured on this machine.
//
// HE-Transformer keeps an unpacked plaintext tensor as std::vector<HEType>; each HEType holds two
// flags, a batch size, an HEPlaintext (a std::vector<double>, here of one value: a heap chunk of
// 32 B in glibc) and a shared_ptr to a ciphertext (he_type.hpp, he_plaintext.hpp). The tensor is
// built by resizing the vector from one prototype (he_tensor.cpp), filled by constant_seal, and
// destroyed by the executor thread after the op that last reads it (he_seal_executable.cpp).
// This program builds, fills and destroys such a tensor of N values and prints ns per value and
// per byte of each phase (the fill on T threads, so the teardown frees other threads' chunks), and the first-touch (page-zeroing) rate of freshly mapped memory.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sys/mman.h>
#include <thread>
#include <vector>

struct HEType {  // the layout of he_type.hpp's private members
  bool is_plain = true;
  bool complex_packing = false;
  size_t batch_size = 1;
  std::vector<double> plain;
  std::shared_ptr<void> cipher;
};

static double now_ns() {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000000;
  unsigned threads = argc > 2 ? std::atoi(argv[2]) : 1;  // constant_seal's fill: OpenMP over values
  size_t bytes = n * (sizeof(HEType) + 32);  // the object and its value's heap chunk
  HEType proto;
  proto.plain = std::vector<double>(1, 0.0);
  double t0 = now_ns();
  auto* t = new std::vector<HEType>();
  t->resize(n, proto);  // one copy, so one malloc, per value
  double t1 = now_ns();
  std::vector<std::thread> pool;
  for (unsigned k = 0; k < threads; ++k)  // a static schedule: thread k fills its contiguous block
    pool.emplace_back([t, n, k, threads] {
      for (size_t i = n * k / threads; i < n * (k + 1) / threads; ++i)
        (*t)[i].plain = std::vector<double>{static_cast<double>(i % 7)};
    });
  for (auto& th : pool) th.join();
  double t2 = now_ns();
  delete t;  // the teardown: n destructors, n frees
  double t3 = now_ns();
  size_t map = size_t(1) << 30;
  char* m = static_cast<char*>(mmap(nullptr, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  double t4 = now_ns();
  for (size_t i = 0; i < map; i += 4096) m[i] = 1;  // first touch: a page fault and a zeroed page each
  double t5 = now_ns();
  munmap(m, map);
  std::printf("values %zu fill_threads %u sizeof_hetype %zu bytes_per_value %zu\n", n, threads, sizeof(HEType),
              sizeof(HEType) + 32);
  std::printf("build_ns_per_value %.2f fill_ns_per_value %.2f teardown_ns_per_value %.2f teardown_ns_per_byte %.4f\n",
              (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n, (t3 - t2) / bytes);
  std::printf("first_touch_gb_per_s %.3f first_touch_ns_per_page %.1f\n", map / (t5 - t4), (t5 - t4) / (map / 4096));
  return 0;
}
