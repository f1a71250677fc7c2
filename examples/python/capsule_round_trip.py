"""Store a key capsule over gRPC, then fetch it back as its recipient (README "Calling the gRPC API from Python").

The Python code for the contract is generated from proto/ (Debian: apt-get install python3-grpcio
python3-grpc-tools python3-cryptography):

    mkdir -p gen-python
    python3 -m grpc_tools.protoc -I proto --python_out=gen-python --grpc_python_out=gen-python \
        proto/cdoc2/capsules/v1/capsules.proto
    PYTHONPATH=gen-python python3 examples/python/capsule_round_trip.py \
        --ca var/dev-pki/ca.pem --cert var/dev-pki/client-cert.pem --key var/dev-pki/client-key.pem \
        --sender localhost:50051 --recipient localhost:50052

test/e2e/python-example.test.ts runs exactly this against a real server.
"""

import argparse
import sys

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cdoc2.capsules.v1 import capsules_pb2, capsules_pb2_grpc

# The capsule type of each EC curve (proto/cdoc2/capsules/v1/capsules.proto, CapsuleType).
CAPSULE_TYPES = {
    "secp256r1": capsules_pb2.CAPSULE_TYPE_ECC_SECP256R1,
    "secp384r1": capsules_pb2.CAPSULE_TYPE_ECC_SECP384R1,
    "secp521r1": capsules_pb2.CAPSULE_TYPE_ECC_SECP521R1,
}


def read(path):
    with open(path, "rb") as file:
        return file.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ca", required=True, help="PEM: the CA that issued the server certificate")
    parser.add_argument("--cert", required=True, help="PEM: the recipient's client certificate (an EC key)")
    parser.add_argument("--key", required=True, help="PEM: its private key")
    parser.add_argument("--sender", required=True, help="HOST:PORT of KeyCapsuleSenderService")
    parser.add_argument("--recipient", required=True, help="HOST:PORT of KeyCapsuleRecipientService")
    args = parser.parse_args()

    ca, cert_pem, key_pem = read(args.ca), read(args.cert), read(args.key)

    # The capsule is addressed to the client certificate's public key; the sender adds its ephemeral public key.
    recipient_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    point = (Encoding.X962, PublicFormat.UncompressedPoint)
    capsule = capsules_pb2.Capsule(
        recipient_id=recipient_key.public_bytes(*point),
        ephemeral_key_material=ec.generate_private_key(recipient_key.curve).public_key().public_bytes(*point),
        capsule_type=CAPSULE_TYPES[recipient_key.curve.name],
    )

    # The sender: TLS 1.3, no client certificate.
    with grpc.secure_channel(args.sender, grpc.ssl_channel_credentials(root_certificates=ca)) as channel:
        sender = capsules_pb2_grpc.KeyCapsuleSenderServiceStub(channel)
        created = sender.CreateKeyCapsule(capsules_pb2.CreateKeyCapsuleRequest(capsule=capsule), timeout=10)
    print("stored", created.transaction_id, "until", created.expiry_time.ToJsonString())

    # The recipient: mutual TLS with the certificate whose key the capsule names.
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key_pem, certificate_chain=cert_pem)
    with grpc.secure_channel(args.recipient, credentials) as channel:
        recipient = capsules_pb2_grpc.KeyCapsuleRecipientServiceStub(channel)
        try:
            fetched = recipient.GetKeyCapsule(
                capsules_pb2.GetKeyCapsuleRequest(transaction_id=created.transaction_id), timeout=10
            )
        except grpc.RpcError as error:
            # NOT_FOUND for an unknown, expired or someone else's capsule: the server does not say which.
            print("refused:", error.code().name, error.details(), file=sys.stderr)
            return 1
    if fetched.capsule != capsule:
        print("the fetched capsule differs from the stored one", file=sys.stderr)
        return 1
    print("fetched", created.transaction_id, "as its recipient: the same capsule")
    return 0


if __name__ == "__main__":
    sys.exit(main())
