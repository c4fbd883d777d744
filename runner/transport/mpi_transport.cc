#include <boost/mpi/communicator.hpp>
#include <boost/mpi/request.hpp>
#include <boost/mpi/status.hpp>
#include <cstdlib>
#include <list>

#include "transport/transport.h"

namespace jobrunner {
namespace {

namespace mpi = boost::mpi;

// Sends are non-blocking (MPI_Isend) and their buffers live here until MPI is done with them.
// Two ranks that both blocked in a send of a large message to each other would deadlock, so no
// rank ever blocks in a send. Receives probe first and take only what has arrived.
class MpiTransport final : public Transport {
 public:
  int rank() const override { return world_.rank(); }
  int size() const override { return world_.size(); }

  void SendBytes(int to, Tag tag, std::string payload) override {
    pending_.push_back(Pending{std::move(payload), {}});
    Pending& p = pending_.back();
    p.request = world_.isend(to, static_cast<int>(tag), p.payload.data(),
                             static_cast<int>(p.payload.size()));
  }

  bool ReceiveInto(Envelope& e) override {
    Flush();
    boost::optional<mpi::status> status = world_.iprobe(mpi::any_source, mpi::any_tag);
    if (!status) return false;
    e.from = status->source();
    e.tag = static_cast<Tag>(status->tag());
    e.payload.resize(static_cast<std::size_t>(status->count<char>().value_or(0)));
    world_.recv(e.from, status->tag(), e.payload.data(), static_cast<int>(e.payload.size()));
    return true;
  }

  bool Flush() override {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->request.test()) {
        KeepBuffer(std::move(it->payload));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    return pending_.empty();
  }

  // mpirun ends every rank and exits with `status` (MPI_Finalize would wait for every rank).
  [[noreturn]] void Abort(int status) override {
    world_.abort(status);
    std::_Exit(status);  // abort does not return; the compiler does not know it
  }

 private:
  struct Pending {
    std::string payload;
    mpi::request request;
  };

  mpi::communicator world_;
  std::list<Pending> pending_;  // a list: requests point into payloads, which must not move
};

}  // namespace

std::unique_ptr<Transport> MakeMpiTransport() { return std::make_unique<MpiTransport>(); }

}  // namespace jobrunner
