"""Every key that signs: the Signer protocol, software keys, and PKCS#11 keys in an HSM."""

from hardware_signers.base import Algorithm, Signer

__all__ = ["Algorithm", "Signer"]
