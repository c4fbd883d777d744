#pragma once

#include <jobrunner/task_kind.h>

#include <atomic>
#include <string>

namespace jobrunner {

// What a kind's Execute sees of its attempt, on a worker thread or in an isolated helper.
class KindContext final : public TaskContext {
 public:
  // `cancelled` may be null (a helper process is stopped by signals, not asked). OutputFile's
  // path is stored in `data_path`, for the attempt's result.
  KindContext(std::string task_id, int attempt, const std::string& cwd, std::string data_dir,
              const std::atomic<bool>* cancelled, std::string& data_path)
      : task_id_(std::move(task_id)),
        attempt_(attempt),
        cwd_(cwd.empty() ? "." : cwd),
        data_dir_(std::move(data_dir)),
        cancelled_(cancelled),
        data_path_(data_path) {}

  const std::string& TaskId() const override { return task_id_; }
  int Attempt() const override { return attempt_; }
  const std::string& Cwd() const override { return cwd_; }
  bool Cancelled() const override {
    return cancelled_ != nullptr && cancelled_->load(std::memory_order_relaxed);
  }
  std::string OutputFile(const std::string& suffix) override {
    data_path_ = data_dir_ + "/" + task_id_ + "." + std::to_string(attempt_) + suffix;
    return data_path_;
  }

 private:
  std::string task_id_;
  int attempt_;
  std::string cwd_;
  std::string data_dir_;
  const std::atomic<bool>* cancelled_;
  std::string& data_path_;
};

}  // namespace jobrunner
