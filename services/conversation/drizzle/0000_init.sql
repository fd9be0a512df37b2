CREATE SCHEMA "conversation";
--> statement-breakpoint
CREATE TABLE "conversation"."conversations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"title" text,
	"visibility" text NOT NULL,
	"status" text NOT NULL,
	"max_members" integer NOT NULL,
	"member_count" integer NOT NULL,
	"metadata" jsonb NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"direct_key" text,
	"last_activity_at" timestamp with time zone NOT NULL,
	"last_message_at" timestamp with time zone,
	"last_seq" integer DEFAULT 0 NOT NULL,
	"last_rev" integer DEFAULT 0 NOT NULL,
	"last_message" jsonb,
	CONSTRAINT "conversations_type_ck" CHECK ("conversation"."conversations"."type" in ('direct', 'group')),
	CONSTRAINT "conversations_status_ck" CHECK ("conversation"."conversations"."status" in ('open', 'closed', 'archived')),
	CONSTRAINT "conversations_visibility_ck" CHECK ("conversation"."conversations"."visibility" in ('private', 'public'))
);
--> statement-breakpoint
CREATE TABLE "conversation"."members" (
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" text NOT NULL,
	"state" text NOT NULL,
	"notifications" text DEFAULT 'all' NOT NULL,
	"joined_at" timestamp with time zone NOT NULL,
	"last_read_seq" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "members_conversation_id_user_id_pk" PRIMARY KEY("conversation_id","user_id"),
	CONSTRAINT "members_role_ck" CHECK ("conversation"."members"."role" in ('owner', 'admin', 'member')),
	CONSTRAINT "members_state_ck" CHECK ("conversation"."members"."state" in ('active', 'muted', 'banned'))
);
--> statement-breakpoint
CREATE TABLE "conversation"."message_index" (
	"conversation_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"rev" integer NOT NULL,
	"sender_id" uuid,
	"is_system" boolean NOT NULL,
	"deleted" boolean NOT NULL,
	CONSTRAINT "message_index_conversation_id_seq_pk" PRIMARY KEY("conversation_id","seq")
);
--> statement-breakpoint
CREATE TABLE "conversation"."outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"subject" text NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "conversation"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "conversation"."users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"avatar_url" text,
	"status_text" text,
	"created_at" timestamp with time zone NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "conversation"."members" ADD CONSTRAINT "members_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "conversation"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation"."message_index" ADD CONSTRAINT "message_index_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "conversation"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "conversations_direct_key_uq" ON "conversation"."conversations" USING btree ("direct_key");--> statement-breakpoint
CREATE INDEX "conversations_public_idx" ON "conversation"."conversations" USING btree ("last_activity_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "conversation"."conversations"."visibility" = 'public' and "conversation"."conversations"."status" = 'open' and "conversation"."conversations"."type" = 'group';--> statement-breakpoint
CREATE INDEX "members_user_idx" ON "conversation"."members" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "conversation"."outbox" USING btree ("id") WHERE published_at IS NULL;