# Where payment $p's money is after the first $n lines of a journal, from the lines alone:
#   jq -n --arg p PAY1 --argjson n 6 -f docs/where.jq journal.jsonl
# Amounts are minor units (cents), exact: a line writes every decimal place, so "35.00" is 3500.
def minor: .amount | sub("\\."; "") | tonumber;
def open($entry; $payment; $patient; $bucket; $held):
  .entries[$entry] = {payment: $payment, patient: $patient, bucket: $bucket, held: $held};
def take($entry; $amount): .entries[$entry].held -= $amount;
reduce limit($n; inputs) as $line ({owner: {}, line_of: {}, lines: {}, entries: {}};
  $line.event as $e | $line.type as $type
  | if $type == "AppointmentAdded" then .owner[$e.appointment.id] = $e.appointment.patient_id
    elif $type == "ChargeAdded" then .line_of[$e.charge.id] = $e.charge.appointment_id
    else . end
  # money placed on lines (+) or taken off them (-), line by line
  | reduce ($e.lines // [])[] as [$payment, $appointment, $charge, $a] (.;
      .lines[[$payment, $appointment, $charge] | tojson] += ($a | minor))
  # entries opened: what a payment or refund did not place, allocations returned, moves
  | if $e.payment and $e.entry_id then
      open($e.entry_id; $e.payment.id; $e.payment.patient_id;
           $e.payment.appointment_id // .line_of[$e.payment.charge_id // ""];
           ($e.payment.amount | minor) - (($e.allocated // {amount: "0"}) | minor)
           - ([($e.placed // [])[][1] | minor] | add // 0))
    else . end
  | reduce ($e.returned // [])[] as [$payment, $a, $entry] (.;
      ($e.appointment_id // .line_of[$e.adjustment.charge_id]) as $appointment
      | open($entry; $payment; .owner[$appointment];
             (if $type == "ChargeAdjusted" then $appointment else null end); $a | minor))
  | reduce ($e.moves // [])[] as [$source, $entry, $a] (.;
      open($entry; .entries[$source].payment;
           ($e.transfer.to_patient_id // .owner[$e.appointment_id]); null; $a | minor)
      | take($source; $a | minor))
  # entries drawn on: applied to lines, closed by cancel_offsetting or a reversal
  | reduce (($e.applied // [])[] | [.[0], .[2]]) as [$entry, $a] (.; take($entry; $a | minor))
  | reduce (($e.parts // []) + ($e.entries // []))[] as [$entry, $a] (.; take($entry; $a | minor))
  # a cancelled visit's entries, moved to the general bucket
  | reduce ($e.moved // [])[] as $entry (.; .entries[$entry].bucket = null))
| {on_lines: [.lines | to_entries[] | (.key | fromjson) as [$payment, $appointment, $charge]
              | select($payment == $p and .value != 0)
              | {appointment: $appointment, line: $charge, minor: .value}],
   held: [.entries | to_entries[] | select(.value.payment == $p and .value.held != 0)
          | {entry: .key, patient: .value.patient, bucket: .value.bucket, minor: .value.held}]}
