// gilfree's main hook: an executable linked with gilfree::gilfree gets -Wl,--wrap=main, so
// the C runtime calls __wrap_main, which turns a spawned worker into a worker after static
// initialisation and before any user code, then calls the program's main. This file
// defines nothing else, so a link that does not ask for it (a shared library, the Python
// module) never pulls it in.
namespace gilfree::multiprocessing::detail {
int main_hook(int argc, char** argv);
}

extern "C" int __real_main(int argc, char** argv, char** envp);

extern "C" int __wrap_main(int argc, char** argv, char** envp) {
  gilfree::multiprocessing::detail::main_hook(argc, argv);
  return __real_main(argc, argv, envp);
}
