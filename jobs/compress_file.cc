// kind: compress-file — gzip (zlib) or zstd (libzstd) of a file, streamed, written atomically.
#include <zlib.h>
#include <zstd.h>

#include <memory>

#include "file_stream.h"

namespace {

struct CompressArgs {
  std::string input;
  std::string output;
  std::string format;  // "gzip" or "zstd"
  int level = 0;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& input& output& format& level;
  }
};

struct CompressResult {
  std::string input;
  std::string output;
  std::string format;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& input& output& format& bytes_in& bytes_out;
  }
};

using jobrunner::jobs::AtomicFile;

void Gzip(const std::string& input, AtomicFile& out, int level, jobrunner::TaskContext& context,
          std::uint64_t& bytes_in) {
  z_stream z{};
  // 15 + 16: a gzip header and trailer around the deflate stream, as gzip(1) writes.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("cannot start zlib");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, deflateEnd);
  std::vector<char> buffer(jobrunner::jobs::kChunkBytes);
  auto pump = [&](const char* data, std::size_t size, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z.avail_in = static_cast<uInt>(size);
    do {
      z.next_out = reinterpret_cast<Bytef*>(buffer.data());
      z.avail_out = static_cast<uInt>(buffer.size());
      if (deflate(&z, flush) == Z_STREAM_ERROR) throw std::runtime_error("zlib failed");
      out.Write(buffer.data(), buffer.size() - z.avail_out);
    } while (z.avail_out == 0);
  };
  bytes_in = jobrunner::jobs::ReadChunks(
      input, context, [&](const char* data, std::size_t size) { pump(data, size, Z_NO_FLUSH); });
  pump(nullptr, 0, Z_FINISH);
}

void Zstd(const std::string& input, AtomicFile& out, int level, jobrunner::TaskContext& context,
          std::uint64_t& bytes_in) {
  std::unique_ptr<ZSTD_CCtx, std::size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!cctx) throw std::runtime_error("cannot start zstd");
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  std::vector<char> buffer(ZSTD_CStreamOutSize());
  auto pump = [&](const char* data, std::size_t size, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, size, 0};
    for (;;) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      const std::size_t left = ZSTD_compressStream2(cctx.get(), &o, &in, mode);
      if (ZSTD_isError(left))
        throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(left));
      out.Write(buffer.data(), o.pos);
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
  };
  bytes_in = jobrunner::jobs::ReadChunks(input, context, [&](const char* data, std::size_t size) {
    pump(data, size, ZSTD_e_continue);
  });
  pump(nullptr, 0, ZSTD_e_end);
}

class CompressFile final : public jobrunner::TypedTaskKind<CompressArgs, CompressResult> {
 public:
  const char* Name() const override { return "compress-file"; }
  const char* Description() const override {
    return "compresses `input` into `output` (default: input + .gz or .zst); `format`: gzip "
           "(default) or zstd; `level`";
  }
  CompressArgs ReadArgs(const jobrunner::KindArgs& args) const override {
    CompressArgs a;
    a.input = args.String("input");
    a.format = args.String("format", "gzip");
    if (a.format != "gzip" && a.format != "zstd") {
      throw jobrunner::KindArgError("format",
                                    "format is '" + a.format + "'; expected gzip or zstd");
    }
    a.output = args.String("output", a.input + (a.format == "gzip" ? ".gz" : ".zst"));
    const bool gzip = a.format == "gzip";
    const std::int64_t level = args.Integer("level", gzip ? 6 : 3);
    const std::int64_t low = 1, high = gzip ? 9 : ZSTD_maxCLevel();
    if (level < low || level > high) {
      throw jobrunner::KindArgError(
          "level", "level " + std::to_string(level) + " is out of range; expected " +
                       std::to_string(low) + " to " + std::to_string(high) + " for " + a.format);
    }
    a.level = static_cast<int>(level);
    return a;
  }
  CompressResult Execute(const CompressArgs& args, jobrunner::TaskContext& context) const override {
    CompressResult result{args.input, args.output, args.format, 0, 0};
    AtomicFile out(context.Path(args.output));
    if (args.format == "gzip") {
      Gzip(context.Path(args.input), out, args.level, context, result.bytes_in);
    } else {
      Zstd(context.Path(args.input), out, args.level, context, result.bytes_in);
    }
    out.Commit();
    result.bytes_out = out.written();
    return result;
  }
  std::string ToJson(const CompressResult& r) const override {
    return "{\"input\":" + jobrunner::JsonQuote(r.input) +
           ",\"output\":" + jobrunner::JsonQuote(r.output) +
           ",\"format\":" + jobrunner::JsonQuote(r.format) +
           ",\"bytes_in\":" + std::to_string(r.bytes_in) +
           ",\"bytes_out\":" + std::to_string(r.bytes_out) + "}";
  }
};

}  // namespace

JOBRUNNER_KIND(CompressFile);
