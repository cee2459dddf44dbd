from jose import jwt as jose_jwt

from tests.flow import exchange, login_flow, register


def test_code_flow_end_to_end(gateway):
    reg = register(gateway)
    params, state, nonce, verifier, rp, _ = login_flow(gateway, reg, prompt="consent")
    assert params["state"] == state
    assert params["iss"] == gateway.url
    token = exchange(gateway, rp, params["code"], verifier)
    jwks = rp.get(gateway.url + "/jwks.json").json()
    claims = jose_jwt.decode(token["id_token"], jwks, algorithms=["ES256"], audience=reg.client_id,
                             issuer=gateway.url, access_token=token["access_token"])
    assert claims["nonce"] == nonce
    assert "refresh_token" in token
