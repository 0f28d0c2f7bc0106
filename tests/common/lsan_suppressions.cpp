// LeakSanitizer suppressions of both test binaries (read by ASan builds, ignored otherwise; one definition per
// binary, so it lives here and is compiled into each).
//
// VImage::text (images with text, rendered by the tests) goes through Pango, whose fontconfig cache lives
// until exit and is never freed. Only allocations made inside libfontconfig are exempt; leaks of ours,
// libvips' or Tesseract's still fail the run.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\n";
}
