/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TDX_FUZZ_PCS_H
#define TDX_FUZZ_PCS_H

/*
 * The input layout of fuzz_tdx_pcs, shared with its corpus generator
 * (tdx_pcs_gen_corpus): eight parts separated by FUZZ_PCS_SEP —
 *   content types "tcb|qe|pckcrl|rootcrl", TCB Info body, TCB-Info-Issuer-Chain
 *   header, QE identity body, SGX-Enclave-Identity-Issuer-Chain header, PCK
 *   CRL body, SGX-PCK-CRL-Issuer-Chain header, root CRL body
 * (an empty header part: no such header). Any other input is fed whole to
 * the header decoder and the body cutter only.
 */
#define FUZZ_PCS_SEP "\n--8<--\n"
#define FUZZ_PCS_PARTS 8

#endif
