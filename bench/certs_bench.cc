// How long issuing the whole certificate catalogue for one host takes, in
// memory and written to disk. The issue's budget is 50 ms on one core; run
// under `taskset -c 0` to hold it to one (see bench/RESULTS.md).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>

#include "certs/catalogue.h"

namespace starttls::certs {
namespace {

const std::vector<std::string> kHosts = {"mail.example.test"};

void BM_IssueCatalogue(benchmark::State& state) {
  for (auto _ : state) {
    auto catalogue = IssueCatalogue(kHosts);
    if (!catalogue) {
      state.SkipWithError(catalogue.error().c_str());
      break;
    }
    benchmark::DoNotOptimize(catalogue->profiles.data());
  }
  state.counters["profiles"] = static_cast<double>(Profiles().size());
}
BENCHMARK(BM_IssueCatalogue)->Unit(benchmark::kMillisecond);

// The same without rsa-1024, the one RSA key: shows what RSA key generation
// costs (it dominates the total and varies from run to run).
void BM_IssueCatalogueWithoutRsa(benchmark::State& state) {
  std::vector<std::string> names;
  for (const Profile& p : Profiles()) {
    if (p.name != "rsa-1024") names.emplace_back(p.name);
  }
  for (auto _ : state) {
    auto catalogue = IssueCatalogue(kHosts, names);
    if (!catalogue) {
      state.SkipWithError(catalogue.error().c_str());
      break;
    }
    benchmark::DoNotOptimize(catalogue->profiles.data());
  }
}
BENCHMARK(BM_IssueCatalogueWithoutRsa)->Unit(benchmark::kMillisecond);

void BM_IssueAndWriteCatalogue(benchmark::State& state) {
  char tmpl[] = "/tmp/certs_bench.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  std::filesystem::path root = tmpl;
  for (auto _ : state) {
    auto catalogue = IssueCatalogue(kHosts);
    if (!catalogue) {
      state.SkipWithError(catalogue.error().c_str());
      break;
    }
    auto files = WriteCatalogue(*catalogue, root / "out");
    if (!files) {
      state.SkipWithError(files.error().c_str());
      break;
    }
    state.PauseTiming();
    std::filesystem::remove_all(root / "out");
    state.ResumeTiming();
  }
  std::filesystem::remove_all(root);
}
BENCHMARK(BM_IssueAndWriteCatalogue)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace starttls::certs

BENCHMARK_MAIN();
