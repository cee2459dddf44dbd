"""`make bench`'s in-process ID-token signing figure runs against today's Provider (it failed
with a TypeError for a while, unnoticed, when encode_id_token gained its ``scope`` argument).
Only the plumbing is checked here; the timings themselves live in `make bench`."""

from bench.oidc_bench import prepare_idgw_database, signing_bench


def test_the_signing_benchmark_runs_against_todays_provider(tmp_path):
    url = f"sqlite:///{tmp_path}/bench.db"
    prepare_idgw_database(url)
    result = signing_bench(url, seconds_per_block=0.01, blocks=1)
    assert set(result["microseconds"]) == {"raw_es256", "joserfc_jwt_encode", "idgw_encode_id_token"}
    assert all(v > 0 for v in result["microseconds"].values())
    assert result["ratio_idgw_to_raw"] > 0 and result["ratio_joserfc_to_raw"] > 0
