/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by fuzz_tdx_quote and fuzz_tdx_collateral (fuzz_common.h). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define Z48 "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
#define COMP(x) "{\"svn\":" #x "}"
#define COMPS16(a, b, c) "[" COMP(a) "," COMP(b) "," COMP(c) "," COMP(0) "," COMP(0) "," COMP(0) "," COMP(0) "," \
	COMP(0) "," COMP(0) "," COMP(0) "," COMP(0) "," COMP(0) "," COMP(0) "," COMP(0) "," COMP(0) "," COMP(0) "]"

static const char tcb_info[] =
	"{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"2026-01-01T00:00:00Z\",\"nextUpdate\":\"2026-02-01T00:00:00Z\","
	"\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,"
	"\"tdxModule\":{\"mrsigner\":\"" Z48 "\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},"
	"\"tdxModuleIdentities\":[{\"id\":\"TDX_01\",\"mrsigner\":\"" Z48 "\",\"attributes\":\"0000000000000000\","
	"\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":[{\"tcb\":{\"isvsvn\":6},\"tcbDate\":\"2025-01-01T00:00:00Z\","
	"\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"isvsvn\":0},\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\","
	"\"advisoryIDs\":[\"INTEL-SA-00001\"]}]}],"
	"\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":" COMPS16(3, 3, 2) ",\"pcesvn\":13,\"tdxtcbcomponents\":"
	COMPS16(5, 0, 2) "},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},"
	"{\"tcb\":{\"sgxtcbcomponents\":" COMPS16(2, 2, 2) ",\"pcesvn\":11,\"tdxtcbcomponents\":" COMPS16(3, 0, 1)
	"},\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-00002\"]}]}";

static const char qe_identity[] =
	"{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"2026-01-01T00:00:00Z\",\"nextUpdate\":\"2026-02-01T00:00:00Z\","
	"\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
	"\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\","
	"\"mrsigner\":\"DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5\",\"isvprodid\":2,"
	"\"tcbLevels\":[{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}]}";

struct tdx_collateral *
fuzz_tdx_fixed_collateral(void)
{
	static struct tdx_collateral *c;
	const char *why = NULL;

	if (c != NULL)
		return c;
	if ((c = tdx_collateral_alloc()) == NULL)
		return NULL;
	if (tdx_tcb_info_parse(tcb_info, strlen(tcb_info), c, &why) != 0 ||
	    tdx_qe_identity_parse(qe_identity, strlen(qe_identity), c, &why) != 0)
		abort();   /* the fixed texts must parse */
	return c;
}

void
fuzz_tdx_fixed_quote(struct tdx_quote *q, struct tdx_pck *pck)
{
	static const uint8_t mrsigner[32] = {
		0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03,
		0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5,
	};

	memset(q, 0, sizeof(*q));
	memset(pck, 0, sizeof(*pck));
	q->version = 4;
	q->body_type = 2;
	q->td.tee_tcb_svn[0] = 6;
	q->td.tee_tcb_svn[1] = 1;
	q->td.tee_tcb_svn[2] = 2;
	q->qe.attributes[0] = 0x11;
	memcpy(q->qe.mrsigner, mrsigner, 32);
	q->qe.isvprodid = 2;
	q->qe.isvsvn = 4;
	pck->sgx_svn[0] = pck->sgx_svn[1] = 3;
	pck->sgx_svn[2] = 2;
	pck->pcesvn = 13;
	memcpy(pck->fmspc, "\x00\x90\x6e\xd5\x00\x00", 6);
}

void
fuzz_tdx_evaluate(const struct tdx_collateral *c, const struct tdx_quote *q, const struct tdx_pck *pck)
{
	struct tdx_tcb_result res;
	const char *why = NULL;

	if (tdx_tcb_check_identities(c, q, &res, &why) != 0)
		return;
	if (tdx_tcb_evaluate(c, pck, q, &res, &why) != 0)
		return;
	if (res.final == TDX_TCB_UNKNOWN || strcmp(tdx_tcb_status_name(res.final), "Unknown") == 0)
		abort();   /* evaluation always ends in a status */
	if (res.final != TDX_TCB_NOT_SUPPORTED && res.level == NULL)
		abort();   /* a status other than "no level" comes from a level */
}
