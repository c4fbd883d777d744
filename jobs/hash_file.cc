// kind: hash-file — the digest of a file (SHA-256 by default), streamed through OpenSSL's EVP.
#include <openssl/evp.h>

#include <memory>

#include "file_stream.h"

namespace {

struct HashArgs {
  std::string path;
  std::string algorithm;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path& algorithm;
  }
};

struct HashResult {
  std::string path;
  std::string algorithm;
  std::string digest;  // lower-case hex
  std::uint64_t bytes = 0;
  template <class Archive>
  void serialize(Archive& archive, unsigned) {
    archive& path& algorithm& digest& bytes;
  }
};

class HashFile final : public jobrunner::TypedTaskKind<HashArgs, HashResult> {
 public:
  const char* Name() const override { return "hash-file"; }
  const char* Description() const override {
    return "digest of `path` (`algorithm`: sha256 by default, or any OpenSSL digest name)";
  }
  HashArgs ReadArgs(const jobrunner::KindArgs& args) const override {
    HashArgs a{args.String("path"), args.String("algorithm", "sha256")};
    if (EVP_get_digestbyname(a.algorithm.c_str()) == nullptr) {
      throw jobrunner::KindArgError("algorithm", "unknown digest '" + a.algorithm +
                                                     "'; expected sha256, sha512, sha1, md5, ...");
    }
    return a;
  }
  HashResult Execute(const HashArgs& args, jobrunner::TaskContext& context) const override {
    const EVP_MD* md = EVP_get_digestbyname(args.algorithm.c_str());
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (md == nullptr || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
      throw std::runtime_error("cannot start digest " + args.algorithm);
    }
    HashResult result{args.path, args.algorithm, "", 0};
    result.bytes = jobrunner::jobs::ReadChunks(
        context.Path(args.path), context,
        [&](const char* data, std::size_t size) { EVP_DigestUpdate(ctx.get(), data, size); });
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &length);
    static const char kHex[] = "0123456789abcdef";
    for (unsigned i = 0; i < length; ++i) {
      result.digest += kHex[digest[i] >> 4];
      result.digest += kHex[digest[i] & 15];
    }
    return result;
  }
  std::string ToJson(const HashResult& r) const override {
    return "{\"path\":" + jobrunner::JsonQuote(r.path) +
           ",\"algorithm\":" + jobrunner::JsonQuote(r.algorithm) +
           ",\"digest\":" + jobrunner::JsonQuote(r.digest) +
           ",\"bytes\":" + std::to_string(r.bytes) + "}";
  }
};

}  // namespace

JOBRUNNER_KIND(HashFile);
